"""Fallback models on the async path (``aask``), and when every model fails: the real
``ChatOpenAI`` against loopback OpenAI-compatible servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

from ahora import Agent
from ahora.errors import ModelAuthenticationError, ModelUnavailable
from ahora.testing import ScriptedChatModel
from ahora.testing.openai_server import OpenAIServer


@pytest.fixture
def servers() -> Iterator[list[OpenAIServer]]:
    started: list[OpenAIServer] = []
    yield started
    for srv in started:
        srv.stop()


def serve(servers: list[OpenAIServer], script: list[Any], **kwargs: Any) -> OpenAIServer:
    srv = OpenAIServer(script=script, **kwargs).start()
    servers.append(srv)
    return srv


def client(srv: OpenAIServer) -> ChatOpenAI:
    return ChatOpenAI(model="test-model", api_key="sk-test", base_url=srv.base_url, max_retries=0)  # type: ignore[arg-type]


def test_when_every_model_fails_the_last_failure_is_reported(
    servers: list[OpenAIServer],
) -> None:
    down = serve(servers, [], fallback={"status": 500})
    also_down = serve(servers, [], fallback={"status": 502})
    agent = Agent(client(down), [], fallbacks=[client(also_down)])
    with pytest.raises(ModelUnavailable, match="HTTP 502"):
        agent.ask("hello")
    assert (down.calls, also_down.calls) == (1, 1)


async def test_when_every_model_fails_on_the_async_path(servers: list[OpenAIServer]) -> None:
    down = serve(servers, [], fallback={"status": 500})
    also_down = serve(servers, [], fallback={"status": 503})
    agent = Agent(client(down), [], fallbacks=[client(also_down)])
    with pytest.raises(ModelUnavailable, match="HTTP 503"):
        await agent.aask("hello")
    assert (down.calls, also_down.calls) == (1, 1)


async def test_fallbacks_in_order_on_the_async_path(servers: list[OpenAIServer]) -> None:
    down = serve(servers, [], fallback={"status": 500})
    also_down = serve(servers, [], fallback={"status": 502})
    scripted = ScriptedChatModel(replies=["Third time lucky."])
    agent = Agent(client(down), [], fallbacks=[client(also_down), scripted])
    assert (await agent.aask("hello")).text == "Third time lucky."
    assert (down.calls, also_down.calls, scripted.calls) == (1, 1, 1)


async def test_a_401_stops_at_once_on_the_async_path(servers: list[OpenAIServer]) -> None:
    bad_key = serve(servers, [], fallback={"status": 401, "message": "Incorrect API key"})
    backup = ScriptedChatModel(replies=["must not be asked"])
    agent = Agent(client(bad_key), [], fallbacks=[backup])
    with pytest.raises(ModelAuthenticationError):
        await agent.aask("hello")
    assert bad_key.calls == 1 and backup.calls == 0


async def test_a_401_from_a_fallback_stops_on_the_async_path(
    servers: list[OpenAIServer],
) -> None:
    down = serve(servers, [], fallback={"status": 500})
    bad_key = serve(servers, [], fallback={"status": 401})
    never = ScriptedChatModel(replies=["must not be asked"])
    agent = Agent(client(down), [], fallbacks=[client(bad_key), never])
    with pytest.raises(ModelAuthenticationError):
        await agent.aask("hello")
    assert (down.calls, bad_key.calls, never.calls) == (1, 1, 0)
