"""One writer per thread: two processes answering on one thread never lose a turn
silently; the one that would overwrite the other stops with ``ThreadBusy``. And a config
naming a pruned checkpoint fails with ``StaleCheckpoint`` instead of starting empty."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from ahora import Agent
from ahora.errors import StaleCheckpoint
from ahora.testing import ScriptedChatModel
from ahora.threads import close_checkpointer, open_sqlite_saver
from tests.cli.conftest import model_server, runner

__all__ = ["model_server", "runner"]  # fixtures, imported for pytest

PG_URL = os.environ.get("AHORA_TEST_POSTGRES_URL", "")

# One turn on thread T, in its own process; the model waits until `release` exists
# (after writing `started`), so the test decides which turn saves first.
_TURN = """
import sys, time
from pathlib import Path
from ahora import Agent
from ahora.errors import ThreadBusy
from ahora.testing import ScriptedChatModel
store, thread, question, folder = sys.argv[1:5]
folder = Path(folder)

def reply(messages, tools):
    (folder / f"started-{question}").touch()
    while not (folder / f"release-{question}").exists():
        time.sleep(0.02)
    return "answer to " + question

if store.startswith("postgresql://"):
    from ahora.threads.postgres import postgres_checkpointer
    saver = postgres_checkpointer(store)
else:
    from ahora.threads import open_sqlite_saver
    saver = open_sqlite_saver(Path(store))
agent = Agent(ScriptedChatModel(replies=[reply]), tools=[], checkpointer=saver)
try:
    print(agent.ask(question, thread=thread).text)
except ThreadBusy as exc:
    print("busy:", exc)
"""


def _start(store: str, thread: str, question: str, folder: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-c", _TURN, store, thread, question, str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def _two_turns_at_once(store: str, thread: str, folder: Path) -> tuple[str, str]:
    """Turn B starts while turn A is waiting for its model; then A finishes."""
    a = _start(store, thread, "A", folder)
    _wait_for(folder / "started-A")
    b = _start(store, thread, "B", folder)
    out_b, err_b = b.communicate(timeout=60)
    (folder / "release-A").touch()
    out_a, err_a = a.communicate(timeout=60)
    assert b.returncode == 0 and a.returncode == 0, err_a + err_b
    assert not (folder / "started-B").exists()  # B never reached its model
    return out_a.strip(), out_b.strip()


def _questions(saver: object, thread: str) -> list[str]:
    agent = Agent(ScriptedChatModel(replies=[]), tools=[], checkpointer=saver)  # type: ignore[arg-type]
    state = agent.graph.get_state({"configurable": {"thread_id": thread}})
    return [m.text for m in state.values["messages"] if isinstance(m, HumanMessage)]


@pytest.mark.slow
def test_two_processes_on_one_sqlite_thread(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    saver = open_sqlite_saver(path)
    Agent(ScriptedChatModel(replies=["hello"]), tools=[], checkpointer=saver).ask(
        "first", thread="T"
    )
    out_a, out_b = _two_turns_at_once(str(path), "T", tmp_path)
    assert out_a == "answer to A"
    assert out_b.startswith("busy: thread T is busy")
    assert _questions(saver, "T") == ["first", "A"]
    # The lock went with the turn: the thread takes the next one.
    Agent(ScriptedChatModel(replies=["C"]), tools=[], checkpointer=saver).ask("C", thread="T")
    assert _questions(saver, "T") == ["first", "A", "C"]
    close_checkpointer(saver)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="AHORA_TEST_POSTGRES_URL is not set")
def test_two_processes_on_one_postgres_thread(tmp_path: Path) -> None:
    import uuid

    from ahora.threads.postgres import postgres_checkpointer

    thread = f"busy-{uuid.uuid4().hex[:8]}"
    saver = postgres_checkpointer(PG_URL)
    Agent(ScriptedChatModel(replies=["hello"]), tools=[], checkpointer=saver).ask(
        "first", thread=thread
    )
    out_a, out_b = _two_turns_at_once(PG_URL, thread, tmp_path)
    assert out_a == "answer to A"
    assert out_b.startswith(f"busy: thread {thread} is busy")
    assert _questions(saver, thread) == ["first", "A"]
    Agent(ScriptedChatModel(replies=["C"]), tools=[], checkpointer=saver).ask("C", thread=thread)
    assert _questions(saver, thread) == ["first", "A", "C"]
    close_checkpointer(saver)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_save_that_does_not_continue_the_latest_checkpoint_is_refused(
    store: str, tmp_path: Path
) -> None:
    """Writers that hold no turn lock (LangGraph used directly) are caught per checkpoint."""
    from langgraph.checkpoint.base import empty_checkpoint

    from ahora.errors import ThreadBusy

    if store == "postgres":
        if not PG_URL:
            pytest.skip("AHORA_TEST_POSTGRES_URL is not set")
        from ahora.threads.postgres import postgres_checkpointer

        first, second = postgres_checkpointer(PG_URL), postgres_checkpointer(PG_URL)
    else:
        first = open_sqlite_saver(tmp_path / "threads.sqlite")
        second = open_sqlite_saver(tmp_path / "threads.sqlite")
    thread = f"cas-{os.getpid()}-{time.monotonic_ns()}"
    root = first.put(
        {"configurable": {"thread_id": thread, "checkpoint_ns": ""}},
        empty_checkpoint(),
        {"source": "input", "step": -1},
        {},
    )
    first.put(root, empty_checkpoint(), {"source": "loop", "step": 0}, {})
    with pytest.raises(ThreadBusy, match="is busy"):
        second.put(root, empty_checkpoint(), {"source": "loop", "step": 0}, {})
    for saver in (first, second):
        close_checkpointer(saver)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_pruned_checkpoint_id_fails_clearly(store: str, tmp_path: Path) -> None:
    if store == "postgres":
        if not PG_URL:
            pytest.skip("AHORA_TEST_POSTGRES_URL is not set")
        from ahora.threads.postgres import postgres_checkpointer

        saver: Any = postgres_checkpointer(PG_URL)
    else:
        saver = open_sqlite_saver(tmp_path / "threads.sqlite")
    thread = f"stale-{os.getpid()}-{time.monotonic_ns()}"
    model = ScriptedChatModel(replies=["one", "two", "three"])
    agent = Agent(model, tools=[], checkpointer=saver)
    agent.ask("first", thread=thread)
    old = saver.get_tuple({"configurable": {"thread_id": thread}})
    assert old is not None
    agent.ask("second", thread=thread)  # replaces the checkpoint `old` names
    saver.compact()  # PostgreSQL prunes here (the CLI and threads=True call it per turn)
    stale = {"configurable": {"thread_id": thread, "checkpoint_id": old.checkpoint["id"]}}
    with pytest.raises(StaleCheckpoint, match="no longer has checkpoint"):
        agent.graph.invoke({"messages": [HumanMessage("third")]}, stale)
    assert model.calls == 2  # failed before calling the model
    close_checkpointer(saver)


async def test_two_tasks_on_one_thread_in_one_process(tmp_path: Path) -> None:
    import asyncio
    import threading

    from ahora.errors import ThreadBusy

    release = threading.Event()

    def slow(messages: object, tools: object) -> str:
        release.wait(30)
        return "slow answer"

    saver = open_sqlite_saver(tmp_path / "threads.sqlite")
    agent = Agent(ScriptedChatModel(replies=[slow, "next"]), tools=[], checkpointer=saver)
    first = asyncio.create_task(agent.aask("one", thread="T"))
    await asyncio.sleep(0.5)  # the first turn is waiting for its model
    with pytest.raises(ThreadBusy, match="thread T is busy"):
        await agent.aask("two", thread="T")
    release.set()
    assert (await first).text == "slow answer"
    assert (await agent.aask("three", thread="T")).text == "next"  # the lock went with it
    close_checkpointer(saver)


def test_keep_history_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahora.settings import Settings
    from ahora.threads import open_checkpointer

    monkeypatch.setenv("AHORA_KEEP_HISTORY", "1")
    saver = open_checkpointer(Settings.load())
    assert saver.keep_history is True  # type: ignore[attr-defined]
    close_checkpointer(saver)
    monkeypatch.delenv("AHORA_KEEP_HISTORY")
    saver = open_checkpointer(Settings.load())
    assert saver.keep_history is False  # type: ignore[attr-defined]
    close_checkpointer(saver)


def test_the_terminal_says_the_thread_is_busy(model_server: Any, runner: Any) -> None:
    import json

    from ahora.cli.main import app
    from ahora.settings import Settings
    from ahora.threads.turnlock import hold_sqlite_thread

    srv = model_server(["Paris.", "Never sent."])
    first = json.loads(runner.invoke(app, ["ask", "--json", "Capital of France?"]).stdout)
    with hold_sqlite_thread(Settings.load().threads_db, first["thread_id"]):
        busy = runner.invoke(app, ["ask", "--thread", first["thread_id"], "And Spain?"])
    assert busy.exit_code == 1
    assert f"thread {first['thread_id']} is busy" in busy.stderr
    assert "Traceback" not in busy.output
    assert srv.calls == 1  # refused before the model was called
