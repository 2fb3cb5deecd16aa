"""API keys never leak: not in logs, ``--json``, saved threads, exports or reprs.

A sentinel key (``OPENAI_API_KEY=sk-SENTINEL-...``) points the real OpenAI client at
the loopback server; after a turn with a tool call and a 401 we grep everything ahora
wrote or printed. The server must have received the key (so the grep would see it if
it leaked anywhere else).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ahora import Agent
from ahora.errors import ModelAuthenticationError
from ahora.settings import Settings
from ahora.testing.openai_server import OpenAIServer

SENTINEL = "sk-SENTINEL-4f2b9c7e1d3a5b8f0c6e2a9d7b4f1c3e"
SCRIPT = [
    {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
    "It is 42.",
]


def leaks_in(data: bytes | str) -> bool:
    raw = data.encode() if isinstance(data, str) else data
    return SENTINEL.encode() in raw or SENTINEL[3:].encode() in raw


def files_with_sentinel(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and leaks_in(p.read_bytes())]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    with OpenAIServer(script=SCRIPT) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("AHORA_MODEL", "openai:test-model")
        yield srv


def test_library_turn_leaks_nothing(
    server: OpenAIServer, isolated_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ahora.threads import ThreadIndex, close_checkpointer, open_sqlite_saver

    settings = Settings.load()
    saver = open_sqlite_saver(settings.threads_db)
    caplog.set_level(logging.DEBUG)
    agent = Agent(tools=["calculator"], checkpointer=saver)
    answer = agent.ask("what is 6*7?")
    with ThreadIndex.for_settings(settings) as index:
        index.finish_turn(
            answer.thread_id or "",
            question="what is 6*7?",
            answer=answer.text,
            sources=answer.sources,
            tool_calls=answer.tool_calls,
            model=answer.model,
        )
    close_checkpointer(saver)

    assert answer.text == "It is 42."
    assert server.headers[0]["authorization"] == f"Bearer {SENTINEL}"  # the key was used
    assert settings.openai_api_key == SENTINEL
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG logs were on
    assert not leaks_in(caplog.text)
    assert not any(leaks_in(str(r.__dict__)) for r in caplog.records)
    assert not leaks_in(json.dumps(answer.to_dict()))
    assert not leaks_in(repr(answer)) and not leaks_in(answer._repr_markdown_())
    assert not leaks_in(repr(settings)) and not leaks_in(str(settings))
    assert not leaks_in(repr(agent.model))
    assert settings.threads_db.exists()
    assert files_with_sentinel(isolated_env) == []


def test_export_leaks_nothing_even_when_a_tool_echoed_the_key(
    server: OpenAIServer, isolated_env: Path
) -> None:
    import io

    from ahora.export import export_threads, known_secrets
    from ahora.threads import open_sqlite_saver

    def env_dump(name: str) -> str:
        """Print an environment variable (a careless tool)."""
        return os.environ.get(name, "")

    server.script[:] = [
        {"tool_calls": [{"name": "env_dump", "arguments": {"name": "OPENAI_API_KEY"}}]},
        "Done.",
    ]
    saver = open_sqlite_saver(Settings.load().threads_db)
    Agent(tools=[env_dump], checkpointer=saver).ask("dump it")
    out = io.StringIO()
    export_threads(saver, None, out, secrets=known_secrets(settings=Settings.load()))
    assert out.getvalue().strip()
    assert not leaks_in(out.getvalue())


def test_rejected_key_error_does_not_quote_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIServer(script=[], fallback={"status": 401, "message": f"bad key {SENTINEL}"}) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        with pytest.raises(ModelAuthenticationError) as info:
            Agent("openai:test-model", []).ask("hi")
    assert not leaks_in(str(info.value))


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from ahora.cli.main import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_cli_json_threads_and_export_leak_nothing(server: OpenAIServer, isolated_env: Path) -> None:
    env = {**os.environ, "COLUMNS": "100"}
    ask = cli(
        ["ask", "what is 6*7?", "--json", "--tools", "calculator", "--verbose", "--debug"], env
    )
    assert ask.returncode == 0, ask.stderr
    assert json.loads(ask.stdout)["answer"] == "It is 42."
    assert server.headers and server.headers[0]["authorization"] == f"Bearer {SENTINEL}"
    outputs = [ask.stdout, ask.stderr]
    export = cli(["threads", "export"], env)
    mounted = "No such command" not in export.stderr
    if mounted:
        assert export.returncode == 0, export.stderr
        assert "It is 42." in export.stdout
        outputs += [export.stdout, export.stderr]
    for text in outputs:
        assert not leaks_in(text)
    assert any(isolated_env.rglob("*.sqlite"))
    assert files_with_sentinel(isolated_env) == []
    if not mounted:
        pytest.skip("`ahora threads export` is not mounted yet; ask --json and files checked")
