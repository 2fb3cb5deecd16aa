"""Threads in a real PostgreSQL server (AHORA_TEST_POSTGRES_URL; .ci/run starts one)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from ahora import Agent
from ahora.errors import InvalidSettings
from ahora.threads.postgres import apostgres_checkpointer, postgres_checkpointer, redact
from ahora.testing import ScriptedChatModel, tool_call
from ahora.threads import PostgresThreadIndex, ThreadNotFound

URL = os.environ.get("AHORA_TEST_POSTGRES_URL", "")
needs_server = pytest.mark.skipif(
    not URL,
    reason="AHORA_TEST_POSTGRES_URL is not set: start a PostgreSQL server and point it there "
    "(.ci/run does: postgresql://postgres@127.0.0.1:55432/postgres)",
)


def recalls(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> str:
    """A reply listing every question the model has seen in this thread."""
    asked = [str(m.content) for m in messages if isinstance(m, HumanMessage)]
    return "Questions so far: " + " | ".join(asked)


@pytest.mark.postgres
@needs_server
def test_a_second_connection_resumes_the_thread() -> None:
    first = postgres_checkpointer(URL)
    try:
        model = ScriptedChatModel(
            replies=[tool_call("calculator", {"expression": "6*7"}), "It is 42.", recalls]
        )
        agent = Agent(model, tools=["calculator"], checkpointer=first)
        one = agent.ask("What is 6 times 7?", thread=f"pg-{uuid.uuid4()}")
        assert one.text == "It is 42."
        two = agent.ask("And my first question?", thread=one.thread_id)
        assert two.text == "Questions so far: What is 6 times 7? | And my first question?"
    finally:
        first.conn.close()

    second = postgres_checkpointer(URL)  # a new connection, as another process would open
    try:
        again = Agent(ScriptedChatModel(replies=[recalls]), tools=[], checkpointer=second)
        three = again.ask("Still there?", thread=one.thread_id)
        assert three.text == (
            "Questions so far: What is 6 times 7? | And my first question? | Still there?"
        )
        assert [m.type for m in three.messages][:4] == ["human", "ai", "tool", "ai"]
    finally:
        second.conn.close()


@pytest.mark.postgres
@needs_server
async def test_the_same_saver_serves_async_runs() -> None:
    saver = postgres_checkpointer(URL)
    try:
        agent = Agent(ScriptedChatModel(replies=["Noted.", recalls]), tools=[], checkpointer=saver)
        one = await agent.aask("Remember 7.", thread=f"pg-{uuid.uuid4()}")
        two = await agent.aask("What did I say?", thread=one.thread_id)
        assert two.text == "Questions so far: Remember 7. | What did I say?"
    finally:
        saver.conn.close()


@pytest.mark.postgres
@needs_server
async def test_async_saver() -> None:
    saver = await apostgres_checkpointer(URL)
    try:
        agent = Agent(ScriptedChatModel(replies=["Noted.", recalls]), tools=[], checkpointer=saver)
        one = await agent.aask("Remember 8.", thread=f"pg-{uuid.uuid4()}")
        two = await agent.aask("What did I say?", thread=one.thread_id)
        assert two.text == "Questions so far: Remember 8. | What did I say?"
    finally:
        await saver.conn.close()


@pytest.mark.postgres
@needs_server
def test_open_checkpointer_picks_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahora.settings import get_settings
    from ahora.threads import open_checkpointer

    monkeypatch.setenv("AHORA_POSTGRES_URL", URL)
    saver = open_checkpointer(get_settings())
    try:
        assert type(saver).__name__ == "ThreadedPostgresSaver"
    finally:
        saver.conn.close()  # type: ignore[attr-defined]


def test_unreachable_server_is_a_settings_error_without_the_password() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://ahora:s3cret@127.0.0.1:{port}/ahora?connect_timeout=2"
    with pytest.raises(InvalidSettings, match="cannot connect to PostgreSQL") as caught:
        postgres_checkpointer(url)
    assert "s3cret" not in str(caught.value)
    assert f"ahora:***@127.0.0.1:{port}" in str(caught.value)
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def rows(table: str, thread_id: str) -> int:
    """How many rows of ``table`` belong to the thread."""
    import psycopg

    with psycopg.connect(URL) as conn:
        found = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE thread_id = %s", (thread_id,))
        return int(found.fetchone()[0])  # type: ignore[index]


def unreferenced_blobs(thread_id: str) -> int:
    """Blobs of the thread that no checkpoint's ``channel_versions`` points at."""
    import psycopg

    with psycopg.connect(URL) as conn:
        found = conn.execute(
            "SELECT COUNT(*) FROM checkpoint_blobs b WHERE b.thread_id = %s AND NOT EXISTS ("
            "SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
            "AND c.checkpoint_ns = b.checkpoint_ns "
            "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
            (thread_id,),
        )
        return int(found.fetchone()[0])  # type: ignore[index]


@pytest.mark.postgres
@needs_server
def test_compact_keeps_the_latest_checkpoint_and_the_thread_resumes() -> None:
    thread = f"pg-{uuid.uuid4()}"
    saver = postgres_checkpointer(URL)
    try:
        steps = 5
        model = ScriptedChatModel(
            replies=[tool_call("calculator", {"expression": f"{i}+1"}) for i in range(steps)]
            + ["done"]
        )
        agent = Agent(model, tools=["calculator"], checkpointer=saver, max_steps=steps + 1)
        answer = agent.ask("Add some numbers.", thread=thread)
        assert answer.text == "done"
        before = rows("checkpoints", thread)
        assert before > steps  # stock PostgresSaver: one per step
        saver.compact()
        assert rows("checkpoints", thread) == 1
        assert rows("checkpoint_writes", thread) == 0
        assert rows("checkpoint_blobs", thread) > 0
        assert unreferenced_blobs(thread) == 0
        saver.compact()  # nothing written since: nothing to do
        assert rows("checkpoints", thread) == 1
    finally:
        saver.conn.close()

    again = postgres_checkpointer(URL)
    try:
        model2 = ScriptedChatModel(replies=[recalls])
        resumed = Agent(model2, tools=["calculator"], checkpointer=again).ask(
            "And now?", thread=thread
        )
        assert resumed.text == "Questions so far: Add some numbers. | And now?"
        assert len(model2.requests[0]) == len(answer.messages) + 2  # system + history + question
    finally:
        again.conn.close()


@pytest.mark.postgres
@needs_server
def test_compact_leaves_other_threads_alone() -> None:
    mine, other = f"pg-{uuid.uuid4()}", f"pg-{uuid.uuid4()}"
    writer = postgres_checkpointer(URL)
    compactor = postgres_checkpointer(URL)
    try:
        model = ScriptedChatModel(replies=["one", "two"])
        Agent(model, tools=[], checkpointer=writer).ask("a", thread=other)
        Agent(model, tools=[], checkpointer=compactor).ask("b", thread=mine)
        kept = rows("checkpoints", other)
        compactor.compact()  # prunes only what this saver wrote
        assert rows("checkpoints", mine) == 1
        assert rows("checkpoints", other) == kept > 1
    finally:
        writer.conn.close()
        compactor.conn.close()


def _prefix() -> str:
    return uuid.uuid4().hex[:10]


@pytest.mark.postgres
@needs_server
def test_index_in_postgres_resolves_ids_prefixes_and_last() -> None:
    p = _prefix()
    start = time.time()
    with PostgresThreadIndex(URL) as index:
        index.finish_turn(f"{p}111", question="first question", answer="a1", model="m")
        index.finish_turn(f"{p}222", question="second question", answer="a2")
        index.finish_turn(
            f"{p}111", question="follow-up", answer="a3", sources=[{"url": "u", "title": "t"}]
        )
        assert index.resolve(f"{p}222").title == "second question"
        assert index.resolve(f"{p}1").id == f"{p}111"
        assert index.resolve("last").id == f"{p}111"
        info = index.get(f"{p}111")
        assert info is not None and info.turns == 2 and info.model == "m"
        # Times keep their precision (a float4 column would round them by a minute).
        assert start <= info.created <= info.updated <= time.time()
        assert [t.question for t in index.turns(f"{p}111")] == ["first question", "follow-up"]
        assert index.turns(f"{p}111")[1].sources == [{"url": "u", "title": "t"}]
        with pytest.raises(ThreadNotFound, match="several"):
            index.resolve(p)
        with pytest.raises(ThreadNotFound, match="no thread"):
            index.resolve(f"{p}9")
        with pytest.raises(ThreadNotFound, match="no thread"):
            index.resolve(f"{p}_")  # LIKE wildcards are literal
    with PostgresThreadIndex(URL) as other:  # another connection sees the same threads
        assert other.resolve(f"{p}2").id == f"{p}222"
        other.delete(f"{p}111")
        assert [t.id for t in other.list() if t.id.startswith(p)] == [f"{p}222"]
        assert other.turns(f"{p}111") == []


@pytest.mark.postgres
@needs_server
def test_two_machines_number_turns_of_one_thread_in_turn() -> None:
    thread = f"{_prefix()}-busy"
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with PostgresThreadIndex(URL) as index:
                for i in range(10):
                    index.finish_turn(thread, question=f"q{n}.{i}", answer="a")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    with PostgresThreadIndex(URL) as index:
        assert [t.number for t in index.turns(thread)] == list(range(1, 31))
        assert index.resolve(thread).turns == 30
        index.delete(thread)


@pytest.mark.postgres
@needs_server
def test_listing_threads_in_postgres_does_not_import_langchain(tmp_path: Path) -> None:
    p = _prefix()
    with PostgresThreadIndex(URL) as index:
        index.finish_turn(f"{p}-listed", question="a shared question", answer="a shared answer")
    code = (
        "import sys\n"
        "from ahora.cli.main import app\n"
        "app(['threads', '--all'], standalone_mode=False)\n"
        f"app(['threads', 'show', '{p}'], standalone_mode=False)\n"
        "heavy = [m for m in sys.modules if m.startswith(('langchain', 'langgraph'))]\n"
        "assert not heavy, heavy\n"
    )
    env = {
        "AHORA_HOME": str(tmp_path / "home"),
        "AHORA_POSTGRES_URL": URL,
        "NO_COLOR": "1",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "a shared question" in done.stdout and "a shared answer" in done.stdout
    assert not (tmp_path / "home" / "threads.sqlite").exists()
    with PostgresThreadIndex(URL) as index:
        index.delete(f"{p}-listed")


def test_unreachable_server_for_the_index_is_a_settings_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://ahora:s3cret@127.0.0.1:{port}/ahora?connect_timeout=2"
    with pytest.raises(InvalidSettings, match="cannot connect to PostgreSQL") as caught:
        PostgresThreadIndex(url).list()
    assert "s3cret" not in str(caught.value)


@pytest.mark.postgres
@needs_server
def test_list_thread_ids_reads_postgres_in_one_query() -> None:
    from ahora.export import list_thread_ids

    saver = postgres_checkpointer(URL)
    try:
        agent = Agent(ScriptedChatModel(replies=["one", "two"]), tools=[], checkpointer=saver)
        first = agent.ask("a", thread=f"pg-{uuid.uuid4()}").thread_id
        second = agent.ask("b", thread=f"pg-{uuid.uuid4()}").thread_id
        ids = list_thread_ids(saver)
        assert ids.index(first) < ids.index(second)  # oldest activity first
    finally:
        saver.conn.close()


@pytest.mark.postgres
@needs_server
def test_a_role_that_may_only_use_the_tables_lists_threads() -> None:
    """The owner creates the tables once; other roles (no CREATE on the schema, as is
    PostgreSQL 15's default) read and write them without touching the catalog."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    with PostgresThreadIndex(URL) as owner:  # creates the tables as the owner
        owner.finish_turn("shared-by-roles", question="hello?", answer="hi", model="test-model")
    role = f"ahora_user_{uuid.uuid4().hex[:8]}"
    with psycopg.Connection.connect(URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'secret-pass'")
        admin.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")
        admin.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ahora_threads, ahora_turns TO {role}"
        )
    parts = urlsplit(URL)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{role}:secret-pass@{host}" + (f":{parts.port}" if parts.port else "")
    user_url = urlunsplit(parts._replace(netloc=netloc))
    try:
        with PostgresThreadIndex(user_url) as index:
            assert "shared-by-roles" in [t.id for t in index.list()]
    finally:
        with psycopg.Connection.connect(URL, autocommit=True) as admin:
            admin.execute(f"REVOKE ALL ON ahora_threads, ahora_turns FROM {role}")
            admin.execute(f"DROP ROLE {role}")


def test_postgres_password_never_appears_in_the_connection_error() -> None:
    from ahora.threads.pgconnect import cannot_connect as _cannot_connect

    url = "postgresql://u:sekret pw@127.0.0.1:9/db"
    message = _cannot_connect(url, ValueError('unexpected spaces found in "sekret pw"'))
    assert "sekret" not in message and "***" in message
