"""Shared test set-up: no internet (pytest-socket, see pyproject addopts), a private
AHORA_HOME per test, and no provider credentials leaking in from the machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_PROVIDER_VARS = (
    "AHORA_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "OLLAMA_HOST",
    "AHORA_SEARXNG_URL",
    "AHORA_SEARCH_BACKEND",
    "AHORA_CONFIG",
    "AHORA_TIMEZONE",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own AHORA_HOME and a clean provider environment."""
    for name in _PROVIDER_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "ahora-home"
    monkeypatch.setenv("AHORA_HOME", str(home))
    # Nothing answers on this port: auto-detection must not find a stray Ollama.
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_COLOR", "1")
    yield home


@pytest.fixture(autouse=True)
def _fresh_http_sessions() -> Iterator[None]:
    """Shared HTTP sessions and the search cache/limiters must not leak between tests."""
    yield
    from ahora import http
    from ahora.search.chain import reset_search_state

    http._sessions.clear()
    reset_search_state()


class _NoNetworkDDGS:
    """ddgs talks through primp (Rust), which pytest-socket cannot block: refuse here.

    Tests that search request the ``fake_ddgs`` fixture, which replaces this.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        from ddgs.exceptions import DDGSException

        raise DDGSException("the internet is off in tests: use the fake_ddgs fixture")


@pytest.fixture(autouse=True)
def _no_real_ddgs(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahora.search import ddgs_backend

    monkeypatch.setattr(ddgs_backend, "ddgs_client_factory", _NoNetworkDDGS)


def pytest_report_header() -> str:
    return f"ahora tests: network limited to loopback; cwd={os.getcwd()}"
