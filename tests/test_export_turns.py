"""Export and the dangling-call patch match tool answers within their turn (issue 17,
item 5), text ahora wrote in the model's place is exported with ``weight: 0`` (item 6),
and every JSONL record is one line for any reader (issue 18, item 13)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from ahora import Agent
from ahora.export import conversation_to_openai, export_threads
from ahora.messages import NOT_FINISHED, STOPPED_EARLY
from ahora.testing.openai_server import last_message_is_tool_result
from tests.cli.conftest import model_server
from tests.test_export import validate_jsonl, validate_line

__all__ = ["model_server"]  # fixture, imported for pytest


def echo(text: str) -> str:
    """Repeat the text back."""
    return f"echo: {text}"


def slow(text: str) -> str:
    """Take a long time (the child process is killed while it runs)."""
    Path(os.environ["FLAG"]).write_text("started")
    time.sleep(60)
    return text


def calls_answered(body: dict[str, Any]) -> None:
    """OpenAI's rule for a request: each assistant tool call is answered by the tool
    messages right after it (else HTTP 400)."""
    wire = body["messages"]
    for i, m in enumerate(wire):
        ids = [c["id"] for c in m.get("tool_calls") or []]
        following = []
        for n in wire[i + 1 :]:
            if n["role"] != "tool":
                break
            following.append(n["tool_call_id"])
        assert sorted(ids) == sorted(following), f"unanswered calls in request: {wire}"


def per_turn_ids(body: dict[str, Any]) -> Any:
    """A model that numbers its calls per reply, as local servers do: ``call_0_0``."""
    if last_message_is_tool_result(body):
        return "Answered " + body["messages"][-1]["content"][-40:]
    question = body["messages"][-1]["content"]
    name = "slow" if question == "q2" else "echo"
    return {"tool_calls": [{"id": "call_0_0", "name": name, "arguments": {"text": question}}]}


_CHILD = """
import sys
from ahora import Agent
sys.path.insert(0, sys.argv[1])
from tests.test_export_turns import echo, slow
Agent(tools=[echo, slow], threads=True).ask("q2", thread="T")
"""


def test_a_run_killed_mid_tool_continues_with_ids_reused_every_turn(
    model_server: Any, tmp_path: Path, isolated_env: Path
) -> None:
    """Turn 1 answers ``call_0_0``; turn 2's ``call_0_0`` dies with its process (kill -9);
    turn 3 calls ``call_0_0`` again. Every request stays valid (turn 2's call gets the
    "never finished" note though its id is answered in turns 1 and 3), and the export
    is a valid line without the dead call."""
    srv = model_server(rule=per_turn_ids)
    agent = Agent(tools=[echo, slow], threads=True)
    assert agent.ask("q1", thread="T").text.startswith("Answered")
    agent.close()

    flag = tmp_path / "tool-started"
    root = str(Path(__file__).resolve().parents[1])
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, root],
        env={**os.environ, "FLAG": str(flag)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        assert flag.exists(), child.stderr.read() if child.stderr else ""
    finally:
        child.kill()
        child.wait()
        if child.stderr:
            child.stderr.close()

    agent = Agent(tools=[echo, slow], threads=True)
    try:
        answer = agent.ask("q3", thread="T")
        saved = agent.messages("T")
    finally:
        agent.close()
    assert answer.text.startswith("Answered")
    for body in srv.requests:
        calls_answered(body)
    patched = srv.requests[-1]["messages"]
    notes = [m for m in patched if m["role"] == "tool" and m["content"] == NOT_FINISHED]
    assert len(notes) == 1  # turn 2's call, and only it
    assert patched[patched.index(notes[0]) - 1]["tool_calls"][0]["function"]["name"] == "slow"
    assert not any(isinstance(m, ToolMessage) and m.content == NOT_FINISHED for m in saved)

    from ahora.settings import get_settings
    from ahora.threads import close_checkpointer, open_checkpointer

    saver = open_checkpointer(get_settings())
    out = io.StringIO()
    try:
        assert export_threads(saver, ["T"], out, secrets=[]) == 1
    finally:
        close_checkpointer(saver)
    [example] = validate_jsonl(out.getvalue())
    shape = [
        (m["role"], m["content"] if m["role"] == "user" else m.get("tool_calls", [{}])[0].get("id"))
        for m in example["messages"]
    ]
    assert shape == [
        ("user", "q1"),
        ("assistant", "call_0_0"),
        ("tool", None),
        ("assistant", None),
        ("user", "q2"),  # its call never finished: left out
        ("user", "q3"),
        ("assistant", "call_0_0"),
        ("tool", None),
        ("assistant", None),
    ]
    tools = [m["content"] for m in example["messages"] if m["role"] == "tool"]
    assert "echo: q1" in tools[0] and "echo: q3" in tools[1]  # each answer in its turn


def _call(call_id: str, name: str = "lookup") -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": {}, "id": call_id, "type": "tool_call"}]
    )


def _result(call_id: str, text: str) -> ToolMessage:
    return ToolMessage(content=text, tool_call_id=call_id, name="lookup")


@pytest.mark.parametrize("dead", ["first", "second"])
def test_export_matches_answers_within_each_turn(dead: str) -> None:
    """The same id in two turns, one of them unanswered (either order): the unanswered
    call is left out, the answered one keeps its own result, the line is valid."""
    turn_done = [_call("call_0_0"), _result("call_0_0", "result"), AIMessage("ok")]
    turn_dead = [_call("call_0_0")]
    first, second = (turn_dead, turn_done) if dead == "first" else (turn_done, turn_dead)
    messages = [HumanMessage("a"), *first, HumanMessage("b"), *second, HumanMessage("c")]
    messages.append(AIMessage("end"))
    example = conversation_to_openai(messages)
    line = validate_line(json.dumps(example) + "\n")
    assert [m["role"] for m in line["messages"]].count("tool") == 1
    assert sum(bool(m.get("tool_calls")) for m in line["messages"]) == 1


def test_a_result_after_another_message_answers_nothing() -> None:
    """A tool result separated from its call (by a user message) is not paired with it."""
    messages = [
        HumanMessage("a"),
        _call("x"),
        HumanMessage("b"),
        _result("x", "late"),
        AIMessage("end"),
    ]
    line = validate_line(json.dumps(conversation_to_openai(messages)) + "\n")
    assert [m["role"] for m in line["messages"]] == ["user", "user", "assistant"]


def test_an_id_twice_in_one_reply_exports_once() -> None:
    call = AIMessage(
        content="",
        tool_calls=[
            {"name": "lookup", "args": {"n": 1}, "id": "dup", "type": "tool_call"},
            {"name": "lookup", "args": {"n": 2}, "id": "dup", "type": "tool_call"},
        ],
    )
    messages = [HumanMessage("a"), call, _result("dup", "1"), _result("dup", "2"), AIMessage("ok")]
    line = validate_line(json.dumps(conversation_to_openai(messages)) + "\n")
    assert [m["role"] for m in line["messages"]] == ["user", "assistant", "tool", "assistant"]


# --- ahora's own words: weight 0 ----------------------------------------------------------


def _export(saver: Any, thread: str) -> dict[str, Any]:
    out = io.StringIO()
    assert export_threads(saver, [thread], out, secrets=[]) == 1
    [example] = validate_jsonl(out.getvalue())
    return example


def test_the_step_budget_s_fallback_text_is_exported_with_weight_0(model_server: Any) -> None:
    """The model keeps calling tools; at the budget its last call is stripped and ahora
    writes "I stopped early (...)" in its place."""

    def always_calls(body: dict[str, Any]) -> Any:
        return {"tool_calls": [{"name": "calculator", "arguments": {"expression": "1+1"}}]}

    model_server(rule=always_calls)
    saver = InMemorySaver()
    agent = Agent(tools=["calculator"], max_steps=2, checkpointer=saver)
    answer = agent.ask("count", thread="budget")
    assert "stopped early" in answer.text
    example = _export(saver, "budget")
    last = example["messages"][-1]
    assert last["role"] == "assistant" and "stopped early" in last["content"]
    assert last["weight"] == 0
    assert all("weight" not in m for m in example["messages"][:-1])  # the model's own calls


def test_the_deadline_s_summary_is_exported_with_weight_0(model_server: Any) -> None:
    """The model is too slow for the time limit; ahora answers with a summary of the
    tool results, which no model wrote."""
    model_server(
        [
            {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
            {"content": "late", "delay": 3},  # past the time limit
            {"content": "late", "delay": 1.5},  # past the grace for the last call
        ]
    )
    saver = InMemorySaver()
    agent = Agent(tools=["calculator"], timeout=2.0, checkpointer=saver)  # margin on a busy box
    answer = agent.ask("six times seven", thread="slow")
    assert "42" in answer.text and answer.text != "late"
    example = _export(saver, "slow")
    last = example["messages"][-1]
    assert last["role"] == "assistant" and "42" in last["content"] and last["weight"] == 0
    assert "weight" not in example["messages"][1]  # the model's tool call is trained on


def test_every_reply_marked_stopped_early_gets_weight_0() -> None:
    messages = [
        HumanMessage("a"),
        AIMessage("model's own words"),
        HumanMessage("b"),
        AIMessage("written at a limit", response_metadata={STOPPED_EARLY: "the step budget"}),
    ]
    example = conversation_to_openai(messages)
    assert "weight" not in example["messages"][1]
    assert example["messages"][3]["weight"] == 0


# --- one record per line --------------------------------------------------------------------


def test_line_separators_are_escaped_so_splitlines_keeps_one_record_per_line() -> None:
    """U+2028/U+2029 (and the other characters ``str.splitlines`` breaks on) inside a
    message stay inside their record, with the same data."""
    breaks = "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\x1dh\x1ei"
    saver = InMemorySaver()
    from ahora.testing import ScriptedChatModel

    Agent(ScriptedChatModel(replies=[breaks]), [], checkpointer=saver).ask(breaks, thread="ls")
    out = io.StringIO()
    assert export_threads(saver, None, out, secrets=[]) == 1
    text = out.getvalue()
    assert len(text.splitlines()) == 1 and "\u2028" not in text and "\u2029" not in text
    [example] = validate_jsonl(text)
    assert [m["content"] for m in example["messages"]] == [breaks, breaks]
