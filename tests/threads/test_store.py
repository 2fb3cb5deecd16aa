"""One store of threads for the terminal and for apps: ``Agent(threads=True)``, reading
without the write lock, and no 0-turn threads in the list."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ahora import Agent
from ahora.cli.main import app
from ahora.settings import Settings
from ahora.testing.openai_server import OpenAIServer
from ahora.threads import ThreadIndex, close_checkpointer, compact_saver_class, open_sqlite_saver
from tests.cli.conftest import model_server, runner, user_messages

__all__ = ["model_server", "runner"]  # fixtures, imported for pytest

StartServer = Callable[..., OpenAIServer]


def test_a_thread_made_in_python_continues_in_the_terminal(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["Paris.", "About 2.1 million."])
    agent = Agent(threads=True, tools=[])
    assert isinstance(agent.checkpointer, compact_saver_class())
    first = agent.ask("Capital of France?")
    agent.close()
    listed = runner.invoke(app, ["threads"])
    assert "Capital of France?" in listed.stdout, listed.output
    chat = runner.invoke(
        app, ["chat", "--resume", first.thread_id[:8]], input="How many people live there?\n"
    )
    assert chat.exit_code == 0, chat.output
    assert user_messages(srv.requests[1]) == ["Capital of France?", "How many people live there?"]
    shown = runner.invoke(app, ["threads", "show", first.thread_id[:8]])
    assert "2 turns" in shown.stdout and "About 2.1 million." in shown.stdout


async def test_a_terminal_thread_continues_in_an_async_app(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["Paris.", "About 2.1 million."])
    asked = json.loads(runner.invoke(app, ["ask", "--json", "Capital of France?"]).stdout)
    agent = Agent(threads=True, tools=[])
    answer = await agent.aask("How many people live there?", thread=asked["thread_id"])
    agent.close()
    assert answer.text == "About 2.1 million."
    assert user_messages(srv.requests[1]) == ["Capital of France?", "How many people live there?"]
    with ThreadIndex.for_settings(Settings.load()) as index:
        turns = index.turns(asked["thread_id"])
    assert [t.question for t in turns] == ["Capital of France?", "How many people live there?"]


def test_threads_true_and_a_checkpointer_are_one_choice(model_server: StartServer) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from ahora.errors import InvalidSettings

    model_server(["x"])
    with pytest.raises(InvalidSettings, match="not both"):
        Agent(threads=True, checkpointer=InMemorySaver(), tools=[])


def test_failed_asks_leave_no_thread_in_the_list(
    runner: CliRunner, model_server: StartServer
) -> None:
    model_server([{"status": 400, "message": "bad request"}, "Paris."])
    failed = runner.invoke(app, ["ask", "Capital of France?"])
    assert failed.exit_code != 0
    assert "Capital of France?" not in runner.invoke(app, ["threads"]).stdout
    with ThreadIndex.for_settings(Settings.load()) as index:
        assert index.list() == []
        with pytest.raises(Exception, match="no saved threads"):
            index.resolve("last")
    runner.invoke(app, ["ask", "Capital of Spain?"])
    assert "Capital of Spain?" in runner.invoke(app, ["threads"]).stdout


def test_an_interrupted_first_turn_leaves_no_thread(model_server: StartServer) -> None:
    from ahora.cli.session import Session
    from ahora.events import ToolCalled

    calc = {"tool_calls": [{"name": "calculator", "arguments": {"expression": "2+2"}}]}
    model_server([calc, {"content": "never shown", "delay": 0.3}])
    session = Session(Settings.load(), tools=["calculator"])
    with pytest.raises(KeyboardInterrupt):
        for event in session.ask("two and two?"):
            if isinstance(event, ToolCalled):
                raise KeyboardInterrupt  # what Ctrl-C does in the caller's thread
    session.wait()
    assert session.index.list() == []
    session.close()


def _saved_thread(path: Path) -> None:
    index = ThreadIndex(path)
    index.finish_turn("abc123", question="a question", answer="an answer")
    index.close()
    saver = open_sqlite_saver(path)
    from langgraph.checkpoint.base import empty_checkpoint

    config = {"configurable": {"thread_id": "abc123", "checkpoint_ns": ""}}
    saver.put(config, empty_checkpoint(), {"source": "input", "step": -1}, {})  # type: ignore[arg-type]
    close_checkpointer(saver)


_READ = """
import os, sys, time
from pathlib import Path
import langgraph.checkpoint.sqlite
from ahora.threads import ThreadIndex, open_sqlite_saver, close_checkpointer
path = Path(sys.argv[1])
if sys.argv[2:] == ["drop"]:  # root may write anything: read as nobody from here on
    os.setgid(65534)
    os.setuid(65534)
started = time.monotonic()
index = ThreadIndex(path)
assert [t.id for t in index.list()] == ["abc123"], index.list()
assert index.resolve("abc").title == "a question"
assert [t.answer for t in index.turns("abc123")] == ["an answer"]
index.close()
saver = open_sqlite_saver(path)
assert saver.get_tuple({"configurable": {"thread_id": "abc123"}}) is not None
close_checkpointer(saver)
print(round(time.monotonic() - started, 2))
"""


def _read(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-c", _READ, str(path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_reading_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    _saved_thread(path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a turn
    writer.execute("UPDATE ahora_threads SET title = title")
    try:
        done = _read(path)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 5  # the busy timeout is 10 s: no wait at all


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_reading_a_file_the_user_may_only_read() -> None:
    # Outside pytest's private tmp folder, so that the reader can reach it as nobody.
    folder = Path(tempfile.mkdtemp(prefix="ahora-ro-"))
    path = folder / "threads.sqlite"
    try:
        _saved_thread(path)
        os.chmod(path, 0o444)
        os.chmod(folder, 0o555)
        done = _read(path, *(["drop"] if os.getuid() == 0 else []))
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(folder)
    assert done.returncode == 0, done.stderr


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("AHORA_TEST_POSTGRES_URL"), reason="no PostgreSQL")
async def test_threads_true_uses_postgresql_when_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uuid

    from ahora.threads.postgres import ThreadedPostgresSaver
    from ahora.testing import ScriptedChatModel

    monkeypatch.setenv("AHORA_POSTGRES_URL", os.environ["AHORA_TEST_POSTGRES_URL"])
    thread = f"py-{uuid.uuid4().hex[:8]}"
    agent = Agent(ScriptedChatModel(replies=["Paris.", "2.1 million."]), tools=[], threads=True)
    assert isinstance(agent.checkpointer, ThreadedPostgresSaver)
    await agent.aask("Capital of France?", thread=thread)
    again = await agent.aask("How many people?", thread=thread)
    agent.close()
    assert [m.text for m in again.messages][:2] == ["Capital of France?", "Paris."]
    with ThreadIndex.for_settings(Settings.load()) as index:
        assert index.resolve(thread).turns == 2


def test_a_failed_ask_from_python_leaves_no_thread(model_server: StartServer) -> None:
    from ahora.errors import AhoraError

    model_server([{"status": 401, "message": "bad key"}])
    agent = Agent(threads=True, tools=[])
    with pytest.raises(AhoraError):
        agent.ask("Capital of France?")
    agent.close()
    with ThreadIndex.for_settings(Settings.load()) as index:
        assert index.list() == []
