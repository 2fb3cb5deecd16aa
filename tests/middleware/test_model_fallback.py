"""Fallback models on the async path (``aask``), and when every model fails: the real
``ChatOpenAI`` against loopback OpenAI-compatible servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain_core.messages import ToolMessage
from langchain_openai import ChatOpenAI

from ahora import Agent
from ahora.errors import ModelAuthenticationError, ModelUnavailable
from ahora.events import Finished
from ahora.testing import ScriptedChatModel
from ahora.testing.openai_server import OpenAIServer


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


def echo(text: str) -> str:
    """Repeat the text back."""
    return f"echo: {text}"


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


def point_at(monkeypatch: pytest.MonkeyPatch, srv: OpenAIServer, retries: int = 3) -> None:
    """The environment a user sets for an OpenAI-compatible server."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    monkeypatch.setenv("AHORA_MODEL_MAX_RETRIES", str(retries))


def client(srv: OpenAIServer, name: str = "test-model") -> ChatOpenAI:
    return ChatOpenAI(model=name, api_key="sk-test", base_url=srv.base_url, max_retries=0)  # type: ignore[arg-type]


# --- the client's own retries, configured by ahora --------------------------------------


def test_500_then_200_is_retried_and_answers(
    servers: list[OpenAIServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = serve(servers, [{"status": 500}, "Recovered answer."])
    point_at(monkeypatch, srv)
    answer = Agent("openai:test-model", []).ask("hello")
    assert answer.text == "Recovered answer."
    assert srv.calls == 2


def test_429_with_retry_after_waits_as_told_then_answers(
    servers: list[OpenAIServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = serve(servers, [{"status": 429, "retry_after": 1}, "After the pause."])
    point_at(monkeypatch, srv)
    started = time.monotonic()
    answer = Agent("openai:test-model", []).ask("hello")
    assert answer.text == "After the pause."
    assert srv.calls == 2
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured


def test_retries_are_sized_by_the_setting(
    servers: list[OpenAIServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = serve(servers, [{"status": 500}, "never reached"])
    point_at(monkeypatch, srv, retries=0)
    with pytest.raises(ModelUnavailable, match="HTTP 500") as caught:
        Agent("openai:test-model", []).ask("hello")
    assert isinstance(caught.value.__cause__, openai.InternalServerError)
    assert srv.calls == 1


# --- fallbacks ---------------------------------------------------------------------------


def test_fallback_model_answers_when_the_first_keeps_failing(
    servers: list[OpenAIServer],
) -> None:
    down = serve(servers, [], fallback={"status": 503})
    backup = serve(servers, ["Answer from the backup."])
    answer = Agent(client(down), [], fallbacks=[client(backup)]).ask("hello")
    assert answer.text == "Answer from the backup."
    assert down.calls == 1 and backup.calls == 1


def test_fallbacks_are_tried_in_order(servers: list[OpenAIServer]) -> None:
    down = serve(servers, [], fallback={"status": 500})
    also_down = serve(servers, [], fallback={"status": 502})
    scripted = ScriptedChatModel(replies=["Third time lucky."])
    agent = Agent(client(down), [], fallbacks=[client(also_down), scripted])
    assert agent.ask("hello").text == "Third time lucky."
    assert (down.calls, also_down.calls, scripted.calls) == (1, 1, 1)


def test_a_failure_mid_run_keeps_the_work_done(servers: list[OpenAIServer]) -> None:
    """The first model calls a tool, then fails; the backup sees the tool result."""
    primary = serve(
        servers,
        [{"tool_calls": [{"name": "echo", "arguments": {"text": "gathered"}}]}],
        fallback={"status": 500},
    )
    backup = serve(servers, ["Finished with what was gathered."])
    answer = Agent(client(primary), [echo], fallbacks=[client(backup)]).ask("go")
    assert answer.text == "Finished with what was gathered."
    assert answer.tool_calls == [{"name": "echo", "args": {"text": "gathered"}}]
    sent = backup.requests[0]["messages"]
    assert any(m["role"] == "tool" and "echo: gathered" in m["content"] for m in sent)
    assert any(isinstance(m, ToolMessage) for m in answer.messages)


def test_fallbacks_from_settings(
    servers: list[OpenAIServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AHORA_FALLBACK_MODELS names backups; one server tells them apart by model name."""

    def rule(body: dict[str, Any]) -> Any:
        return {"status": 500} if body["model"] == "test-model" else f"From {body['model']}."

    srv = serve(servers, [], rule=rule)
    point_at(monkeypatch, srv, retries=0)
    monkeypatch.setenv("AHORA_FALLBACK_MODELS", "openai:backup-model")
    answer = Agent("openai:test-model", []).ask("hello")
    assert answer.text == "From backup-model."
    assert [r["model"] for r in srv.requests] == ["test-model", "backup-model"]


async def test_fallback_async_and_streaming(servers: list[OpenAIServer]) -> None:
    down = serve(servers, [], fallback={"status": 500})
    backup = serve(servers, ["Async backup.", "Streamed backup."])
    agent = Agent(client(down), [], fallbacks=[client(backup)])
    assert (await agent.aask("hello")).text == "Async backup."
    events = [e async for e in agent.astream("again")]
    assert isinstance(events[-1], Finished)
    assert events[-1].answer.text == "Streamed backup."


# --- a rejected key stops at once ----------------------------------------------------------


def test_401_stops_at_once_and_does_not_fall_back(
    servers: list[OpenAIServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = serve(servers, [], fallback={"status": 401, "message": "Incorrect API key provided"})
    backup = serve(servers, ["must not be asked"])
    point_at(monkeypatch, srv, retries=3)
    agent = Agent("openai:test-model", [], fallbacks=[client(backup)])
    with pytest.raises(ModelAuthenticationError, match="API key"):
        agent.ask("hello")
    assert srv.calls == 1  # not retried
    assert backup.calls == 0  # not fallen back


def test_401_from_a_fallback_also_stops(servers: list[OpenAIServer]) -> None:
    down = serve(servers, [], fallback={"status": 500})
    bad_key = serve(servers, [], fallback={"status": 401})
    never = ScriptedChatModel(replies=["must not be asked"])
    agent = Agent(client(down), [], fallbacks=[client(bad_key), never])
    with pytest.raises(ModelAuthenticationError):
        agent.ask("hello")
    assert never.calls == 0
