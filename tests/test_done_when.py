"""The issues' "done when" checks, end to end through the real parts.

A question about tomorrow's weather in Santiago goes through the README's own Python
snippet (and the CLI, in Spanish) to the real ``langchain-openai`` client talking to
a loopback OpenAI-compatible server, whose "model" reads the weather tool's result
and answers with its figures: so the figures in the answer can only have come from
the (loopback) Open-Meteo service, through the weather tool.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ahora.testing.openai_server import OpenAIServer, last_message_is_tool_result
from tests.fixtures import open_meteo

open_meteo_server = open_meteo.open_meteo_server

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def weather_model(body: dict[str, Any]) -> Any:
    """A stand-in model: asks for the weather, then answers from the tool's text."""
    if not last_message_is_tool_result(body):
        return {"tool_calls": [{"name": "weather", "arguments": {"location": "Santiago, Chile"}}]}
    report = body["messages"][-1]["content"]
    days = re.findall(
        r"^(\d{4}-\d\d-\d\d) \w+: ([^,]+), max ([\d.]+°C) / min ([\d.]+°C)", report, re.M
    )
    date, sky, high, low = days[1]  # tomorrow
    question = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    if "tiempo" in question:
        return (
            f"Mañana ({date}) en Santiago de Chile: {sky}, máxima {high} y mínima {low}. "
            "Fuente: Open-Meteo."
        )
    return (
        f"Tomorrow ({date}) in Santiago, Chile: {sky}, high {high}, low {low}. Source: Open-Meteo."
    )


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    with OpenAIServer(rule=weather_model) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("AHORA_ALLOW_PRIVATE_URLS", "1")
        yield srv


def test_readme_quickstart_snippet_answers_with_the_forecast_figures(
    open_meteo_server: open_meteo.OpenMeteoServer, model_env: OpenAIServer, capsys: Any
) -> None:
    snippet = next(b for b in _python_blocks((ROOT / "README.md").read_text()) if "Agent()" in b)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # the README's own code
    answer = namespace["answer"]
    assert "high 25.0°C, low 13.0°C" in answer.text  # day 2 of the fixture's forecast
    assert any(s["url"].startswith(open_meteo_server.url) for s in answer.sources)
    assert answer.tool_calls[0]["name"] == "weather"
    assert namespace["follow_up"].thread_id == answer.thread_id
    printed = capsys.readouterr().out
    assert "25.0°C" in printed


def test_readme_test_double_snippet_runs() -> None:
    snippet = next(
        b for b in _python_blocks((ROOT / "README.md").read_text()) if "ScriptedChatModel" in b
    )
    exec(compile(snippet, "README.md", "exec"), {})


@pytest.mark.slow
def test_cli_answers_the_spanish_question_with_figures_and_sources(
    open_meteo_server: open_meteo.OpenMeteoServer, model_env: OpenAIServer
) -> None:
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "ahora", "ask", "--json", "¿Qué tiempo hará mañana en Santiago?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answer"].startswith("Mañana")
    assert "máxima 25.0°C y mínima 13.0°C" in data["answer"]
    assert any(s["url"].startswith(open_meteo_server.url) for s in data["sources"])
    assert data["tool_calls"] == [{"name": "weather", "args": {"location": "Santiago, Chile"}}]
