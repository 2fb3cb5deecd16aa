"""Fixtures for the CLI tests: a loopback OpenAI-compatible model server with ahora's
environment pointing at it, the loopback Open-Meteo, and a CliRunner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from ahora.testing.openai_server import OpenAIServer, Reply, Rule
from tests.fixtures.open_meteo import OpenMeteoServer

WEATHER_CALL: dict[str, Any] = {
    "tool_calls": [{"name": "weather", "arguments": {"location": "Santiago, Chile"}}]
}
ANSWER = "Tomorrow in **Santiago**: 25 °C and clear."


@pytest.fixture
def model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., OpenAIServer]]:
    """Start an ``OpenAIServer`` (script or rule) and point AHORA_MODEL/OPENAI_* at it."""
    servers: list[OpenAIServer] = []

    def start(
        script: list[Reply] | None = None, *, rule: Rule | None = None, **kw: Any
    ) -> OpenAIServer:
        srv = OpenAIServer(script or [], rule=rule, **kw).start()
        servers.append(srv)
        monkeypatch.setenv("AHORA_MODEL", "openai:test-model")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("AHORA_MODEL_MAX_RETRIES", "0")
        return srv

    yield start
    for srv in servers:
        srv.stop()


@pytest.fixture
def weather_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenMeteoServer]:
    with OpenMeteoServer() as srv:
        srv.configure(monkeypatch)
        monkeypatch.setenv("AHORA_ALLOW_PRIVATE_URLS", "1")
        yield srv


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def user_messages(body: dict[str, Any]) -> list[str]:
    """The user messages' text in one chat-completions request."""
    return [str(m.get("content")) for m in body["messages"] if m.get("role") == "user"]
