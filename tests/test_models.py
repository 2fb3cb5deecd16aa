"""Model strings, auto-detection order, and provider errors as ahora errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

from ahora import Agent
from ahora.errors import (
    InvalidModel,
    ModelAuthenticationError,
    ModelUnavailable,
    NoModelConfigured,
    ProviderNotInstalled,
)
from ahora.models import (
    DEFAULT_ANTHROPIC_MODEL,
    DEFAULT_OPENAI_MODEL,
    check_spec,
    choose_model,
    installed_providers,
    model_label,
    resolve_model,
    translate_model_error,
)
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel
from ahora.testing.openai_server import OpenAIServer
from tests.fixtures.faults import FAULTS, assert_survived


class _OllamaHandler(BaseHTTPRequestHandler):
    models: tuple[str, ...] = ()

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            body = json.dumps(
                {
                    "models": [
                        {"name": n, "model": n, "size": 2019393189, "details": {"family": "llama"}}
                        for n in self.models
                    ]
                }
            ).encode()
            self.send_response(200)
        else:
            body = b"404 page not found"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def ollama_server() -> Iterator[str]:
    """A loopback server answering Ollama's ``GET /api/tags`` with one pulled model."""

    class Handler(_OllamaHandler):
        models = ("llama3.2:latest",)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# --- auto-detection ------------------------------------------------------------------


def test_ahora_model_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_MODEL", "openai:gpt-4.1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    choice = choose_model()
    assert choice.spec == "openai:gpt-4.1"
    assert "AHORA_MODEL" in choice.reason


def test_openai_key_alone_uses_the_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    choice = choose_model()
    assert choice.spec == f"openai:{DEFAULT_OPENAI_MODEL}"
    assert choice.base_url is None


def test_openai_base_url_discovers_the_served_model(monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIServer(script=["Hola desde el servidor."], models=["local-qwen", "other"]) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        choice = choose_model()
        assert choice.spec == "openai:local-qwen"
        assert choice.base_url == srv.base_url
        assert "OPENAI_BASE_URL" in choice.reason
        model = resolve_model()
        assert isinstance(model, ChatOpenAI)
        assert model.model_name == "local-qwen"
        # End to end: the detected model answers through the server.
        answer = Agent(tools=[_noop]).ask("hola")
        assert answer.text == "Hola desde el servidor."
        assert answer.model == "local-qwen"
        assert srv.requests[0]["model"] == "local-qwen"
        assert srv.headers[0]["authorization"] == "Bearer sk-local"


def test_openai_base_url_that_does_not_answer_falls_back_to_the_default_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert choose_model().spec == f"openai:{DEFAULT_OPENAI_MODEL}"
    assert choose_model(probe=False).spec == f"openai:{DEFAULT_OPENAI_MODEL}"


def test_anthropic_key_without_the_extra_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    assert choose_model().spec == f"anthropic:{DEFAULT_ANTHROPIC_MODEL}"
    assert installed_providers()["anthropic"] is False  # not installed in this environment
    with pytest.raises(ProviderNotInstalled) as info:
        resolve_model()
    message = str(info.value)
    assert "ahora[anthropic]" in message
    assert "\n" not in message


def test_ollama_server_is_detected_and_the_missing_extra_reported(
    monkeypatch: pytest.MonkeyPatch, ollama_server: str
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server)
    choice = choose_model()
    assert choice.spec == "ollama:llama3.2:latest"
    assert choice.base_url == ollama_server
    with pytest.raises(ProviderNotInstalled, match=r"ahora\[ollama\]"):
        resolve_model()
    with pytest.raises(ProviderNotInstalled, match=r"ahora\[ollama\]"):
        Agent(tools=[_noop])


def test_ollama_host_without_scheme(monkeypatch: pytest.MonkeyPatch, ollama_server: str) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.removeprefix("http://"))
    assert choose_model().spec == "ollama:llama3.2:latest"


def test_anthropic_key_comes_before_ollama(
    monkeypatch: pytest.MonkeyPatch, ollama_server: str
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    assert choose_model().spec.startswith("anthropic:")


def test_nothing_configured_explains_every_option() -> None:
    with pytest.raises(NoModelConfigured) as info:
        choose_model()
    message = str(info.value)
    for option in (
        "AHORA_MODEL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "OLLAMA_HOST",
        "ahora[anthropic]",
        "ahora[ollama]",
        "model=",
    ):
        assert option in message, option
    with pytest.raises(NoModelConfigured):
        Agent(tools=[_noop])


def test_probe_false_never_asks_ollama(monkeypatch: pytest.MonkeyPatch, ollama_server: str) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server)
    with pytest.raises(NoModelConfigured):
        choose_model(probe=False)


def test_settings_passed_explicitly_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AHORA_MODEL", "openai:from-env")
    s = Settings.load(model="openai:from-arg")
    assert choose_model(s).spec == "openai:from-arg"


# --- model strings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        ("gpt-4.1-mini", InvalidModel, "no provider"),
        (":gpt", InvalidModel, "no provider"),
        ("openai:", InvalidModel, "no provider"),
        ("nosuchprovider:model", InvalidModel, "unknown model provider 'nosuchprovider'"),
        ("anthropic:claude", ProviderNotInstalled, "ahora[anthropic]"),
        ("ollama:llama3.2", ProviderNotInstalled, "ahora[ollama]"),
    ],
)
def test_bad_model_strings(spec: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as info:
        check_spec(spec)
    assert words in str(info.value)


def test_model_string_builds_openai_with_settings() -> None:
    s = Settings.load(openai_api_key="sk-x", openai_base_url="http://127.0.0.1:9/v1")
    model = resolve_model("OpenAI:gpt-4.1-nano", settings=s)
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4.1-nano"
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert model_label(model) == "gpt-4.1-nano"


def test_model_instances_pass_through_and_other_objects_are_refused() -> None:
    scripted = ScriptedChatModel(replies=["x"])
    assert resolve_model(scripted) is scripted
    with pytest.raises(InvalidModel, match="not int"):
        resolve_model(42)  # type: ignore[arg-type]


# --- provider errors -----------------------------------------------------------------


def test_auth_failure_from_the_server_is_a_model_authentication_error() -> None:
    with OpenAIServer(script=[{"status": 401, "message": "Incorrect API key provided"}]) as srv:
        model = ChatOpenAI(model="m", api_key="bad", base_url=srv.base_url, max_retries=0)  # type: ignore[arg-type]
        agent = Agent(model, [_noop])
        with pytest.raises(ModelAuthenticationError, match="OPENAI_API_KEY"):
            agent.ask("hi")


def test_auth_failure_while_streaming_and_async(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    with OpenAIServer(fallback={"status": 401}) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-bad")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("AHORA_MODEL_MAX_RETRIES", "0")
        agent = Agent("openai:test-model", [_noop])
        with pytest.raises(ModelAuthenticationError):
            list(agent.stream("hi"))
        with pytest.raises(ModelAuthenticationError):
            asyncio.run(agent.aask("hi"))


def test_other_errors_are_not_translated() -> None:
    assert translate_model_error(ValueError("x")) is None


def _noop() -> str:
    """Do nothing."""
    return "ok"


@pytest.mark.parametrize(
    "fault", ["provider_500_then_200", "provider_429_retry_after", "provider_rejects_key"]
)
def test_fault_is_survived(fault: str, tmp_path: Path) -> None:
    """Provider failures are retried or named."""
    assert_survived(FAULTS[fault], tmp_path)


@pytest.mark.parametrize(("spec", "var"), [("openai:gpt-4.1-mini", "OPENAI_API_KEY")])
def test_explicit_model_without_its_key_is_a_configuration_error(spec: str, var: str) -> None:
    with pytest.raises(NoModelConfigured, match=var):
        resolve_model(spec, settings=Settings.load({}))


# --- the start-up probe: the key stays with its origin; dead servers are named ----------


def test_probe_refuses_to_send_the_key_through_a_cross_origin_redirect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from urllib.parse import quote

    from tests.fixtures.pages import PageServer

    with PageServer() as front, PageServer() as elsewhere:
        away = elsewhere.url("/echo-headers")
        base = front.url(f"/redirect?to={quote(away, safe='')}&x=")  # /models appended
        monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-key")
        monkeypatch.setenv("OPENAI_BASE_URL", base)
        choice = choose_model()
        assert choice.probe is not None and choice.probe.redirect_refused
        assert away in (choice.probe.error or "")
        with pytest.raises(ModelUnavailable, match="another origin"):
            resolve_model()
        assert elsewhere.hits == []  # the key never left for the other origin


def test_probe_names_the_url_of_a_dead_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    probe = choose_model().probe
    assert probe is not None and not probe.answered
    assert "http://127.0.0.1:9/v1/models" in (probe.error or "")


def test_connection_errors_name_the_model_server_url() -> None:
    import httpx
    import openai

    request = httpx.Request("POST", "http://10.9.9.9:8000/v1/chat/completions")
    mapped = translate_model_error(openai.APIConnectionError(request=request))
    assert mapped is not None
    assert "http://10.9.9.9:8000/v1/chat/completions" in str(mapped)


def test_langchain_openai_connection_errors_name_the_url_too() -> None:
    import httpx
    from langchain_openai.chat_models.base import OpenAIConnectionError

    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    mapped = translate_model_error(OpenAIConnectionError(request=request))
    assert isinstance(mapped, ModelUnavailable)
    assert "cannot reach the model server at http://127.0.0.1:9/v1/chat/completions" in str(mapped)
