"""ahora.threads: the compact checkpointer and the thread index; Session's repairs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from typer.testing import CliRunner

from ahora.agent import Agent
from ahora.cli.main import app
from ahora.cli.session import Session
from ahora.errors import ConfigurationError
from ahora.events import ToolCalled
from ahora.middleware.dangling_calls import NOT_FINISHED
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel, tool_call
from ahora.testing.openai_server import OpenAIServer, Reply, Rule
from ahora.threads import ThreadIndex, ThreadNotFound, close_checkpointer, open_sqlite_saver
from tests.cli.conftest import user_messages

PG_URL = os.environ.get("AHORA_TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(
    not PG_URL,
    reason="AHORA_TEST_POSTGRES_URL is not set: start a PostgreSQL server and point it there "
    "(.ci/run does: postgresql://postgres@127.0.0.1:55432/postgres)",
)


@tool
def fetch(n: int) -> str:
    """Fetch a big block of text.

    Args:
        n: Which block.
    """
    return f"block {n} " + "x" * 10_000


def _text_bytes(messages: list[Any]) -> int:
    return sum(len(str(m.content).encode()) for m in messages)


def test_saver_keeps_only_the_latest_checkpoint_and_the_file_stays_small(tmp_path: Path) -> None:
    saver = open_sqlite_saver(tmp_path / "t.sqlite")
    steps = 20
    model = ScriptedChatModel(
        replies=[tool_call("fetch", {"n": i}) for i in range(steps)] + ["done"]
    )
    agent = Agent(model, [fetch], checkpointer=saver, max_steps=steps + 1)
    answer = agent.ask("go", thread="T")
    assert answer.text == "done"
    assert saver.conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone() == (1,)
    assert saver.conn.execute("SELECT COUNT(*) FROM writes").fetchone() == (0,)
    saver.compact()
    size = (tmp_path / "t.sqlite").stat().st_size
    wal = tmp_path / "t.sqlite-wal"
    size += wal.stat().st_size if wal.exists() else 0
    assert size < 3 * _text_bytes(answer.messages)
    # A fresh saver on the same file resumes the conversation.
    saver2 = open_sqlite_saver(tmp_path / "t.sqlite")
    model2 = ScriptedChatModel(replies=["again"])
    again = Agent(model2, [fetch], checkpointer=saver2).ask("more", thread="T")
    assert again.text == "again"
    assert len(model2.requests[0]) == len(answer.messages) + 2  # system + history + question


def test_index_resolves_ids_prefixes_and_last(tmp_path: Path) -> None:
    index = ThreadIndex(tmp_path / "t.sqlite")
    assert index.list() == []
    index.finish_turn("abc111", question="first question", answer="a1")
    index.finish_turn("abc222", question="second question", answer="a2")
    index.finish_turn(
        "abc111", question="follow-up", answer="a3", sources=[{"url": "u", "title": "t"}]
    )
    assert index.resolve("abc222").title == "second question"
    assert index.resolve("abc1").id == "abc111"
    assert index.resolve("last").id == "abc111"
    info = index.get("abc111")
    assert info is not None and info.turns == 2 and info.title == "first question"
    assert [t.question for t in index.turns("abc111")] == ["first question", "follow-up"]
    assert index.turns("abc111")[1].sources == [{"url": "u", "title": "t"}]
    with pytest.raises(ThreadNotFound, match="several"):
        index.resolve("abc")
    with pytest.raises(ThreadNotFound, match="no thread"):
        index.resolve("zzz")
    assert issubclass(ThreadNotFound, ConfigurationError)
    index.delete("abc111")
    assert [t.id for t in index.list()] == ["abc222"]


def test_listing_commands_do_not_import_langchain(tmp_path: Path) -> None:
    index = ThreadIndex(tmp_path / "ahora-home" / "threads.sqlite")
    index.finish_turn("abc111", question="a question", answer="an answer")
    index.close()
    code = (
        "import sys\n"
        "from ahora.cli.main import app\n"
        "app(['threads'], standalone_mode=False)\n"
        "app(['threads', 'show', 'abc'], standalone_mode=False)\n"
        "app(['tools'], standalone_mode=False)\n"
        "app(['agents'], standalone_mode=False)\n"
        "heavy = [m for m in sys.modules if m.startswith(('langchain', 'langgraph'))]\n"
        "assert not heavy, heavy\n"
    )
    env = {"AHORA_HOME": str(tmp_path / "ahora-home"), "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    # The first `ahora tools` builds the registry's catalogue cache; later ones read it.
    warm = "from ahora.cli.main import app\napp(['tools'], standalone_mode=False)\n"
    subprocess.run([sys.executable, "-c", warm], env=env, capture_output=True, timeout=60)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "a question" in done.stdout and "an answer" in done.stdout


StartServer = Callable[..., OpenAIServer]


def _by_question(replies: dict[str, list[Reply]]) -> Rule:
    """A rule answering each question with its replies in order, one per model call
    (the turn's calls so far: those after the question's user message)."""

    def rule(body: dict[str, Any]) -> Reply:
        messages = body["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "user")
        calls = sum(1 for m in messages[last:] if m["role"] == "assistant")
        return replies[messages[last]["content"]][calls]

    return rule


def test_an_interrupted_turn_is_undone(model_server: StartServer) -> None:
    calc = {"tool_calls": [{"name": "calculator", "arguments": {"expression": "2+2"}}]}
    srv = model_server(
        rule=_by_question(
            {
                "one": ["first answer"],
                # The delay keeps the turn running while the caller interrupts it.
                "two": [calc, {"content": "never shown", "delay": 0.3}],
                "three": ["third"],
            }
        )
    )
    s = Session(Settings.load(), tools=["calculator"])
    list(s.ask("one"))
    with pytest.raises(KeyboardInterrupt):
        for event in s.ask("two"):
            if isinstance(event, ToolCalled):
                raise KeyboardInterrupt  # what Ctrl-C does in the caller's thread
    answer = [e for e in s.ask("three")][-1].answer
    assert answer.text == "third"
    sent = srv.requests[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["one", "three"]
    assert not any(m["role"] == "tool" for m in sent)
    assert [t.question for t in s.index.turns(s.thread_id)] == ["one", "three"]
    s.close()


def test_a_killed_turn_is_sealed_and_the_thread_continues(model_server: StartServer) -> None:
    """A process killed while a tool ran leaves a tool call without a result."""
    srv = model_server(["after"])
    s = Session(Settings.load(), tools=["calculator"])
    # What the killed process left in the checkpoint: the question and a pending call.
    call = tool_call("calculator", {"expression": "1+1"})
    s.agent.graph.update_state(
        {"configurable": {"thread_id": s.thread_id}},
        {"messages": [HumanMessage("first"), call]},
        as_node="model",
    )
    answer = [e for e in s.ask("second")][-1].answer
    assert answer.text == "after"
    sent = srv.requests[-1]["messages"]
    sealed = [m for m in sent if m["role"] == "tool"]
    assert [(m["content"], m["tool_call_id"]) for m in sealed] == [
        (NOT_FINISHED, call.tool_calls[0]["id"])
    ]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["first", "second"]
    s.close()


def test_close_checkpointer_closes_a_sqlite_saver(tmp_path: Path) -> None:
    saver = open_sqlite_saver(tmp_path / "t.sqlite")
    close_checkpointer(saver)
    with pytest.raises(sqlite3.ProgrammingError):
        saver.conn.execute("SELECT 1")


@pytest.mark.postgres
@needs_postgres
def test_close_checkpointer_closes_a_postgres_saver() -> None:
    from ahora.threads.postgres import postgres_checkpointer

    saver = postgres_checkpointer(PG_URL)
    assert not saver.conn.closed
    close_checkpointer(saver)
    assert saver.conn.closed


def _checkpoints(thread_id: str) -> int:
    import psycopg

    with psycopg.connect(PG_URL) as conn:
        found = conn.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = %s", (thread_id,))
        return int(found.fetchone()[0])  # type: ignore[index]


@pytest.mark.postgres
@needs_postgres
def test_two_machines_share_threads_through_postgres(
    runner: CliRunner,
    model_server: StartServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two AHORA_HOMEs (two machines) on one database: one starts a thread, the other
    lists it, continues it by prefix and deletes it for both."""
    srv = model_server(["Paris.", "About 2.1 million."])
    monkeypatch.setenv("AHORA_POSTGRES_URL", PG_URL)
    one, two = tmp_path / "one", tmp_path / "two"

    def on(home: Path, *args: str) -> Any:
        monkeypatch.setenv("AHORA_HOME", str(home))
        return runner.invoke(app, list(args))

    started = on(one, "ask", "--json", "Capital of France?")
    assert started.exit_code == 0, started.output
    thread = json.loads(started.stdout)["thread_id"]
    prefix = thread[:8]
    assert _checkpoints(thread) == 1  # compacted after the turn

    listed = on(two, "threads", "--json", "--all")
    assert listed.exit_code == 0, listed.output
    found = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {"id": thread, "title": "Capital of France?", "turns": 1}.items() <= next(
        t for t in found if t["id"] == thread
    ).items()

    cont = on(two, "ask", "--thread", prefix, "How many people live there?")
    assert cont.exit_code == 0, cont.output
    assert cont.stdout == "About 2.1 million.\n"
    assert user_messages(srv.requests[1]) == ["Capital of France?", "How many people live there?"]
    assert _checkpoints(thread) == 1

    shown = on(one, "threads", "show", prefix)
    assert shown.exit_code == 0, shown.output
    for text in ("Capital of France?", "Paris.", "How many people live there?", "2 turns"):
        assert text in shown.stdout

    removed = on(two, "threads", "rm", prefix)
    assert removed.exit_code == 0 and prefix in removed.stdout
    assert thread not in on(one, "threads", "--json", "--all").stdout
    gone = on(one, "ask", "--thread", prefix, "Still there?")
    assert gone.exit_code == 2 and "no thread" in gone.stderr
    assert _checkpoints(thread) == 0
    # Nothing went to the machines' local files.
    assert not (one / "threads.sqlite").exists() and not (two / "threads.sqlite").exists()


def test_a_failed_compaction_keeps_the_finished_turn(
    model_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compaction is housekeeping: a locked or full disk must not undo an answered turn."""
    from ahora.threads import compact_saver_class

    def locked(self: Any) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(compact_saver_class(), "compact", locked)
    model_server(["one", "two"])
    s = Session(Settings.load(), tools=[])
    assert [e for e in s.ask("first")][-1].answer.text == "one"
    assert [e for e in s.ask("second")][-1].answer.text == "two"
    saved = [
        m.content
        for m in s.agent.graph.get_state({"configurable": {"thread_id": s.thread_id}}).values[
            "messages"
        ]
    ]
    assert saved == ["first", "one", "second", "two"]
    s.close()
