"""Agents calling agents in the terminal: nested steps indented at 80 columns, in
``--json`` and ``threads show``, and a thread deleted with its sub-runs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer, Reply
from tests.cli.screen import screen_of
from tests.cli.test_threads_store import PG_URL, needs_postgres
from tests.test_subagents import write_profiles

StartServer = Callable[..., OpenAIServer]


def offered(body: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in body.get("tools") or []}


def chain(body: dict[str, Any]) -> Reply:
    """lead asks scout, scout asks leaf, leaf calculates; each then answers with what
    came back to it."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        who = "Leaf" if "calculator" in offered(body) else "Scout"
        if "scout" in offered(body):
            who = "Lead"
        return f"{who} says: 42." if "42" in str(last["content"]) else f"{who}: no result."
    tools = offered(body)
    if "scout" in tools:
        return {"tool_calls": [{"name": "scout", "arguments": {"task": "Find 6 times 7."}}]}
    if "leaf" in tools:
        return {"tool_calls": [{"name": "leaf", "arguments": {"task": "Compute 6*7."}}]}
    return {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]}


def ask_lead(home: Path, model_server: StartServer, runner: CliRunner) -> dict[str, Any]:
    """``lead`` asks ``scout``, which asks ``leaf``, which calculates: the ``--json``."""
    write_profiles(home, lead=["agent:scout"], scout=["agent:leaf"], leaf=["calculator"])
    model_server(rule=chain)
    done = runner.invoke(app, ["ask", "--json", "--agent", "lead", "What is 6 times 7?"])
    assert done.exit_code == 0, done.output
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_nested_steps_are_indented_under_the_call_that_started_them(
    model_server: StartServer, isolated_env: Path
) -> None:
    write_profiles(isolated_env, lead=["agent:scout"], scout=["agent:leaf"], leaf=["calculator"])
    model_server(rule=chain)
    lines = screen_of("ask", "--agent", "lead", "What is 6 times 7?", cols=80)
    start = next(i for i, line in enumerate(lines) if "▸ scout" in line)
    assert lines[start : start + 5] == [
        '▸ scout: "Find 6 times 7."',
        '  ▸ leaf: "Compute 6*7."',
        lines[start + 2],
        lines[start + 3],
        lines[start + 4],
    ]
    assert lines[start + 2].startswith("    ✓ Calculating 6*7 · ")  # the leaf's own call
    assert lines[start + 3].startswith("  ✓ leaf · ")  # the scout's call of leaf
    assert lines[start + 4].startswith("✓ scout · ")  # the lead's own call
    assert all(len(line) <= 80 for line in lines)
    assert "Lead says: 42." in lines


def test_json_and_threads_show_include_what_sub_agents_did(
    model_server: StartServer, isolated_env: Path
) -> None:
    runner = CliRunner()
    data = ask_lead(isolated_env, model_server, runner)
    [call] = data["tool_calls"]
    scout = call["subagent"]
    # scout's steps include leaf's: one budget all the way down.
    assert (scout["agent"], scout["task"], scout["steps"]) == ("scout", "Find 6 times 7.", 4)
    [leaf_call] = scout["tool_calls"]
    leaf = leaf_call["subagent"]
    assert leaf["tool_calls"] == [{"name": "calculator", "args": {"expression": "6*7"}}]
    assert data["steps"] == 2 + 2 + 2  # every agent's calls count in the caller's budget

    shown = runner.invoke(app, ["threads", "show", "last"])
    assert shown.exit_code == 0, shown.output
    body = shown.stdout.splitlines()
    at = body.index("› What is 6 times 7?")
    assert body[at + 1 : at + 4] == [
        '  ▸ scout: "Find 6 times 7." · 4 steps',
        '    ▸ leaf: "Compute 6*7." · 2 steps',
        "      Calculating 6*7",
    ]


def test_deleting_a_thread_deletes_its_sub_runs(
    model_server: StartServer, isolated_env: Path
) -> None:
    runner = CliRunner()
    thread = ask_lead(isolated_env, model_server, runner)["thread_id"]
    [db] = [p for p in isolated_env.rglob("*.sqlite") if "thread" in p.name]

    def stored() -> set[str]:
        with sqlite3.connect(db) as conn:
            return {row[0] for row in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}

    kept = stored()
    # The sub-runs live beside the caller's thread: scout's, and leaf's under it.
    assert thread in kept and len([t for t in kept if t.startswith(thread + "/subagent:")]) == 2
    # An app's own thread that merely starts with the same id must survive.
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TEMP TABLE copy AS SELECT * FROM checkpoints WHERE thread_id = ?", (thread,)
        )
        conn.execute("UPDATE copy SET thread_id = ?", (thread + "/mine",))
        conn.execute("INSERT INTO checkpoints SELECT * FROM copy")
    deleted = runner.invoke(app, ["threads", "rm", thread[:8]])
    assert deleted.exit_code == 0, deleted.output
    assert stored() == {thread + "/mine"}


def test_export_writes_the_callers_conversation_and_on_request_each_sub_agents(
    model_server: StartServer, isolated_env: Path
) -> None:
    runner = CliRunner()
    ask_lead(isolated_env, model_server, runner)

    plain = runner.invoke(app, ["threads", "export", "--profile", "lead"])
    assert plain.exit_code == 0, plain.output
    [caller] = [json.loads(line) for line in plain.stdout.splitlines() if line.startswith("{")]
    roles = [m["role"] for m in caller["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert caller["messages"][2]["tool_calls"][0]["function"]["name"] == "scout"
    assert [t["function"]["name"] for t in caller["tools"]] == ["scout"]

    every = runner.invoke(app, ["threads", "export", "--profile", "lead", "--subagents"])
    assert every.exit_code == 0, every.output
    examples = [json.loads(line) for line in every.stdout.splitlines() if line.startswith("{")]
    assert len(examples) == 3 and examples[0] == caller
    scout, leaf = examples[1:]
    assert [m["content"] for m in scout["messages"] if m["role"] == "user"] == ["Find 6 times 7."]
    assert [t["function"]["name"] for t in scout["tools"]] == ["leaf"]
    assert [m["content"] for m in leaf["messages"] if m["role"] == "user"] == ["Compute 6*7."]
    assert [t["function"]["name"] for t in leaf["tools"]] == ["calculator"]
    # Each with its own profile's instructions, not the caller's.
    assert caller["messages"][0]["content"].endswith("Do your part as lead.")
    assert scout["messages"][0]["content"].endswith("Do your part as scout.")
    assert leaf["messages"][0]["content"].endswith("Do your part as leaf.")
    assert "Exported 3 conversation(s)" in every.stderr


@pytest.mark.postgres
@needs_postgres
def test_sub_runs_live_and_die_with_their_thread_in_postgres(
    model_server: StartServer, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("AHORA_POSTGRES_URL", PG_URL)
    runner = CliRunner()
    thread = ask_lead(isolated_env, model_server, runner)["thread_id"]

    def stored() -> list[str]:
        with psycopg.connect(PG_URL) as conn:
            found = conn.execute(
                "SELECT DISTINCT thread_id FROM checkpoints WHERE starts_with(thread_id, %s)",
                (thread,),
            )
            return sorted(str(row[0]) for row in found)

    kept = stored()
    assert len(kept) == 3 and kept[0] == thread  # the caller, scout's run, leaf's under it
    assert all(t.startswith(thread + "/subagent:") for t in kept[1:])
    assert runner.invoke(app, ["threads", "rm", thread[:8]]).exit_code == 0
    assert stored() == []


def test_an_agent_made_in_python_is_exported_without_a_profiles_prompt(
    isolated_env: Path,
) -> None:
    """Named like the built-in ``chef`` profile, but made in Python: its example must not
    claim the chef's instructions, which it never had."""
    from langchain_core.messages import ToolMessage

    from ahora import Agent
    from ahora.testing import ScriptedChatModel, tool_call

    def rule(messages: list[Any], tools: list[Any]) -> Any:
        names = {t["function"]["name"] if "function" in t else t.get("name") for t in tools}
        if isinstance(messages[-1], ToolMessage):
            return "done"
        if "chef" in names:
            return tool_call("chef", {"task": "6*7?"})
        return tool_call("calculator", {"expression": "6*7"})

    model = ScriptedChatModel(replies=[rule] * 8)
    chef = Agent(model, ["calculator"], instructions="Only sums.").as_tool("chef", "Sums.")
    boss = Agent(model, [chef], threads=True)
    boss.ask("6*7?")
    boss.close()
    every = CliRunner().invoke(app, ["threads", "export", "--subagents"])
    assert every.exit_code == 0, every.output
    examples = [json.loads(line) for line in every.stdout.splitlines() if line.startswith("{")]
    assert len(examples) == 2
    assert examples[0]["messages"][0]["role"] == "system"  # the caller's (the default profile)
    assert examples[1]["messages"][0]["role"] == "user"  # no made-up prompt
