"""A thread whose offered tools change between turns exports with every schema it was
offered (issue 24): the ``ahora_tools`` channel merges, on every store, sync and async."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from typer.testing import CliRunner

from ahora import Agent
from ahora.export import export_threads
from ahora.testing.openai_server import last_message_is_tool_result
from tests.cli.conftest import model_server, runner
from tests.test_export import validate_jsonl

__all__ = ["model_server", "runner"]  # fixtures, imported for pytest

PG_URL = os.environ.get("AHORA_TEST_POSTGRES_URL", "")


@tool
def opening_hours(place: str) -> str:
    """Opening hours of a place.

    Args:
        place: The place's name.
    """
    return f"{place}: open 9:00-18:00"


# Each question makes the model call one tool, then answer.
CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "time?": ("clock", {}),
    "2+2?": ("calculator", {"expression": "2+2"}),
    "hours?": ("opening_hours", {"place": "Louvre"}),
    "refund?": ("search_docs", {"query": "refund"}),
    "add?": ("add", {"a": 2, "b": 40}),
}


def rule(body: dict[str, Any]) -> Any:
    if last_message_is_tool_result(body):
        return "Done."
    name, args = CALLS[body["messages"][-1]["content"]]
    return {"tool_calls": [{"name": name, "arguments": args}]}


def offered_in_order(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tool schema the model was sent, in the order first sent."""
    seen: dict[str, dict[str, Any]] = {}
    for body in requests:
        for t in body.get("tools") or []:
            seen.setdefault(json.dumps(t, sort_keys=True), t)
    return list(seen.values())


def assert_exports_what_was_offered(example: dict[str, Any], requests: list[Any]) -> None:
    sent = offered_in_order(requests)
    assert len({t["function"]["name"] for t in sent}) == len(sent)  # no tool changed shape
    names = [t["function"]["name"] for t in example["tools"]]
    assert names == [t["function"]["name"] for t in sent]
    for ours, theirs in zip(example["tools"], sent, strict=True):
        assert ours["function"]["parameters"] == theirs["function"]["parameters"]
        assert ours["function"]["description"] == theirs["function"]["description"]
    called = [c["function"]["name"] for m in example["messages"] for c in m.get("tool_calls") or []]
    for body, name in zip(
        [r for r in requests if not last_message_is_tool_result(r)], called, strict=True
    ):
        assert name in {t["function"]["name"] for t in body["tools"]}  # each call was offered


@pytest.fixture(params=["memory", "bounded-memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    from ahora.threads import close_checkpointer, open_sqlite_saver

    if request.param == "memory":
        yield InMemorySaver()
        return
    if request.param == "bounded-memory":  # Agent()'s own when given no store
        from ahora.threads.memory_saver import BoundedMemorySaver

        yield BoundedMemorySaver()
        return
    if request.param == "sqlite":
        saver: Any = open_sqlite_saver(tmp_path / "threads.sqlite")
    else:
        if not PG_URL:
            pytest.skip("AHORA_TEST_POSTGRES_URL is not set")
        from ahora.settings import Settings
        from ahora.threads import open_checkpointer

        saver = open_checkpointer(Settings(postgres_url=PG_URL))
    yield saver
    close_checkpointer(saver)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_thread_whose_tools_grow_exports_every_tool_offered(
    store: Any, mode: str, model_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three turns on one thread, each agent offering more tools; before the fix the
    first turn's schemas were overwritten and the thread was skipped."""
    monkeypatch.chdir(tmp_path)
    srv = model_server(rule=rule)
    thread = f"grow-{mode}-{os.getpid()}-{id(store)}"
    turns: list[tuple[list[Any], str]] = [
        (["clock"], "time?"),
        (["clock", "calculator"], "2+2?"),
        (["calculator", opening_hours], "hours?"),  # clock no longer offered
    ]

    async def ask_all() -> list[str]:  # one event loop: the model's client lives in it
        return [
            (await Agent(tools=t, checkpointer=store).aask(q, thread=thread)).text for t, q in turns
        ]

    if mode == "sync":
        texts = [Agent(tools=t, checkpointer=store).ask(q, thread=thread).text for t, q in turns]
    else:
        texts = asyncio.run(ask_all())
    assert texts == ["Done."] * len(turns)
    out = io.StringIO()
    skipped: list[tuple[str, str]] = []
    count = export_threads(
        store, [thread], out, secrets=[], on_skip=lambda t, r: skipped.append((t, r))
    )
    assert skipped == [] and count == 1
    [example] = validate_jsonl(out.getvalue())
    assert [m["content"] for m in example["messages"] if m["role"] == "user"] == [
        q for _, q in turns
    ]
    assert_exports_what_was_offered(example, srv.requests)
    assert [t["function"]["name"] for t in example["tools"]] == [
        "clock",
        "calculator",
        "opening_hours",
    ]


def test_every_reducer_in_the_state_is_the_channel_s_reducer() -> None:
    """LangGraph takes only the last ``Annotated`` item as a field's reducer: a reducer
    placed before another item (``PrivateStateAttr``) is silently ignored. Checked for
    every field of the graph ahora builds, with approvals (the largest stack)."""
    from langgraph.channels.binop import BinaryOperatorAggregate

    from ahora.testing import ScriptedChatModel

    agent = Agent(ScriptedChatModel(replies=["ok"]), ["calculator"], approvals=["calculator"])
    hints = get_type_hints(agent.graph.builder.state_schema, include_extras=True)
    checked = []
    for name, hint in hints.items():
        while get_origin(hint) is not None and not hasattr(hint, "__metadata__"):
            hint = get_args(hint)[0]  # NotRequired[...], Required[...]
        reducers = [
            m for m in getattr(hint, "__metadata__", ()) if callable(m) and not isinstance(m, type)
        ]
        if reducers:
            channel = agent.graph.channels[name]
            assert isinstance(channel, BinaryOperatorAggregate), name
            assert channel.operator is reducers[-1], name
            checked.append(name)
    assert "ahora_tools" in checked and "messages" in checked


def _mcp_config(home: Path) -> None:
    server = Path(__file__).parent / "fixtures" / "mcp_server.py"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f"[mcp_servers.demo]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(server))}]\n"
    )


def test_cli_thread_grown_by_flags_docs_mcp_and_agent_switch_exports_whole(
    runner: CliRunner,
    model_server: Any,
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One saved thread, continued with ``--tools``, ``--docs``, an MCP tool (from an
    app on the same store) and ``/agent`` in chat: ``ahora threads export`` writes it
    with every tool each call was offered."""
    from ahora.cli.main import app

    monkeypatch.chdir(tmp_path)  # away from the repository's ./tools
    srv = model_server(rule=rule)
    docs = tmp_path / "handbook"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nWithin 14 days.\n")
    _mcp_config(isolated_env)

    # MCP's stdio client needs real file descriptors, which CliRunner replaces (and the
    # registry keeps the failure): the thread starts from an app on the same store.
    agent = Agent(tools=["add", "clock"], threads=True)
    try:
        answer = agent.ask("add?")
    finally:
        agent.close()
    assert answer.text == "Done." and answer.thread_id
    more = ["--thread", answer.thread_id]
    for flags, question in [
        (["--tools", "clock"], "time?"),
        (["--tools", "clock,calculator"], "2+2?"),
        (["--tools", "calculator", "--docs", str(docs)], "refund?"),
    ]:
        done = runner.invoke(app, ["ask", *more, *flags, question])
        assert done.exit_code == 0, done.output
    thread = answer.thread_id
    chat = runner.invoke(app, ["chat", "--resume", thread], input="/agent weather\ntime?\n")
    assert chat.exit_code == 0, chat.output
    sent = {t["function"]["name"] for t in srv.requests[-1]["tools"]}
    assert "weather" in sent  # the switched profile's tools were offered

    target = tmp_path / "train.jsonl"
    result = runner.invoke(app, ["threads", "export", "-o", str(target), thread])
    assert result.exit_code == 0, result.output
    assert "Exported 1 conversation(s)" in result.output and "Skipped" not in result.output
    [example] = validate_jsonl(target.read_text(encoding="utf-8"))
    assert [m["content"] for m in example["messages"] if m["role"] == "user"] == [
        "add?",
        "time?",
        "2+2?",
        "refund?",
        "time?",
    ]
    assert_exports_what_was_offered(example, srv.requests)
    names = {t["function"]["name"] for t in example["tools"]}
    assert {"clock", "calculator", "search_docs", "add", "weather"} <= names


def test_a_thread_saved_before_the_fix_recovers_schemas_from_the_tools_given() -> None:
    """Threads saved while the channel kept only its last value lost earlier schemas;
    a schema missing from the record is taken from the tools given when its content
    hash matches (the very schema that was offered), else the thread is skipped."""
    from ahora.offered import OFFERED

    saver = InMemorySaver()
    agent = Agent(_scripted(), [opening_hours], checkpointer=saver)
    agent.ask("hours?", thread="old")
    config: Any = {"configurable": {"thread_id": "old"}}
    agent.graph.update_state(config, {OFFERED: {}})  # merges: nothing lost
    state = agent.graph.get_state(config)
    assert state.values[OFFERED]
    # Simulate the old bug: the record holds no schema at all.
    checkpoint = saver.get_tuple(config)
    assert checkpoint is not None
    saved = checkpoint.checkpoint
    version = saver.get_next_version(saved["channel_versions"][OFFERED], None)
    saved["channel_values"][OFFERED] = {}
    saved["channel_versions"][OFFERED] = version
    saver.put(checkpoint.config, saved, checkpoint.metadata, {OFFERED: version})
    assert not agent.graph.get_state(config).values[OFFERED]

    out = io.StringIO()
    assert export_threads(saver, ["old"], out, tools=[opening_hours], secrets=[]) == 1
    [example] = validate_jsonl(out.getvalue())
    assert [t["function"]["name"] for t in example["tools"]] == ["opening_hours"]

    @tool
    def opening_hours_v2(place: str) -> str:
        """Opening hours of a place, changed since."""
        return place

    opening_hours_v2.name = "opening_hours"
    skipped: list[str] = []
    out = io.StringIO()
    count = export_threads(
        saver,
        ["old"],
        out,
        tools=[opening_hours_v2],
        secrets=[],
        on_skip=lambda t, r: skipped.append(r),
    )
    assert count == 0 and "schema of an offered tool is missing" in skipped[0]


def _scripted() -> Any:
    from ahora.testing import ScriptedChatModel, tool_call

    return ScriptedChatModel(replies=[tool_call("opening_hours", {"place": "Louvre"}), "Done."])


def test_merge_schemas_adds_up() -> None:
    from ahora.offered import merge_schemas

    assert merge_schemas({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}
    assert merge_schemas(None, {"b": 2}) == {"b": 2}
    assert merge_schemas({"a": 1}, None) == {"a": 1}
