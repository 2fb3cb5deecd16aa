"""The time-limit wrap-up as a person sees it at 80 columns (issue 22, item 7): the
gathered result reaches the figure asked about, sources are listed once, "stopped
early" is said once, and a run that gathered nothing exits 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer, last_message_is_tool_result
from tests.cli.conftest import WEATHER_CALL
from tests.cli.screen import screen_of
from tests.fixtures.open_meteo import OpenMeteoServer

StartServer = Callable[..., OpenAIServer]


def _slow_weather(body: dict[str, Any]) -> dict[str, Any]:
    """A 3 s model: a weather call, then (too late) an answer."""
    if last_message_is_tool_result(body):
        return {"content": "Tomorrow: warm.", "delay": 3}
    return {**WEATHER_CALL, "delay": 3}


def test_time_limit_wrap_up_at_80_columns(
    model_server: StartServer, weather_server: OpenMeteoServer
) -> None:
    model_server(rule=_slow_weather)
    lines = screen_of("ask", "--timeout", "5", "What's the weather in Santiago tomorrow?")
    text = "\n".join(lines)
    assert "I stopped early" in text
    assert text.lower().count("stopped early") == 1, text
    # The preview reaches past today's figures to the next days of the forecast.
    daily = text.split("Daily forecast:")[1].split("Sources")[0]
    assert daily.count("°C") >= 4, text
    # Each source once, in the Sources list, one line each (not a 7-line raw URL).
    assert text.count("/v1/forecast?") == 1, text
    assert all(len(line) <= 80 for line in lines)


def test_time_limit_with_nothing_gathered_exits_1(
    runner: CliRunner, model_server: StartServer
) -> None:
    model_server(rule=lambda body: {"content": "Too late.", "delay": 5})
    result = runner.invoke(app, ["ask", "--json", "--timeout", "2", "What is 6*7?"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["stopped_early"] is True and "Nothing was gathered" in data["answer"]
