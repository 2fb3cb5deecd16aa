"""Threads in a real PostgreSQL server (AHORA_TEST_POSTGRES_URL; .ci/run starts one)."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from ahora import Agent
from ahora.errors import InvalidSettings
from ahora.postgres import apostgres_checkpointer, postgres_checkpointer, redact
from ahora.testing import ScriptedChatModel, tool_call

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
