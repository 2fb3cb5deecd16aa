"""The ahora CLI in-process (typer's CliRunner) against the loopback model server."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ahora.__about__ import __version__
from ahora.cli.main import app
from ahora.settings import get_settings
from ahora.testing.openai_server import (
    OpenAIServer,
    last_message_is_tool_result,
    tool_then_answer,
)
from tests.cli.conftest import ANSWER, user_messages
from tests.fixtures.open_meteo import OpenMeteoServer, closed_url

StartServer = Callable[..., OpenAIServer]


def _weather_rule() -> Any:
    return tool_then_answer("weather", {"location": "Santiago, Chile"}, answer=ANSWER)


def test_ask_piped_prints_only_the_answer(
    runner: CliRunner, model_server: StartServer, weather_server: OpenMeteoServer
) -> None:
    srv = model_server(rule=_weather_rule())
    result = runner.invoke(app, ["ask", "Weather tomorrow in Santiago?"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ANSWER + "\n"
    assert result.stderr == ""
    assert user_messages(srv.requests[0]) == ["Weather tomorrow in Santiago?"]
    assert weather_server.requests_to("/v1/forecast")


def test_ask_json_has_the_documented_shape(
    runner: CliRunner, model_server: StartServer, weather_server: OpenMeteoServer
) -> None:
    model_server(rule=_weather_rule())
    result = runner.invoke(app, ["ask", "--json", "Weather in Santiago?"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] == ANSWER
    assert {"answer", "sources", "tool_calls", "usage", "model", "thread_id"} <= set(data)
    assert data["tool_calls"] == [{"name": "weather", "args": {"location": "Santiago, Chile"}}]
    assert data["sources"] and all(
        set(s) == {"url", "title", "fetched_at"} for s in data["sources"]
    )
    fetched = data["sources"][0]["fetched_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+00:00|Z)", fetched)
    assert data["sources"][0]["url"].startswith(weather_server.url)
    assert data["usage"]["input_tokens"] > 0 and data["usage"]["output_tokens"] > 0
    assert data["model"] == "test-model"
    # Every ask is saved as a thread.
    listed = runner.invoke(app, ["threads", "--json"])
    assert json.loads(listed.stdout.splitlines()[0])["id"] == data["thread_id"]


@pytest.mark.parametrize("args", [["ask", "-"], ["ask"], []])
def test_question_from_stdin(runner: CliRunner, model_server: StartServer, args: list[str]) -> None:
    srv = model_server(["Four."])
    result = runner.invoke(app, [*args] if args else ["ask"], input="What is 2+2?\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Four.\n"
    assert user_messages(srv.requests[0]) == ["What is 2+2?"]


def test_bare_question_runs_ask_and_typos_are_not_questions(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["Hi there."])
    result = runner.invoke(app, ["hello agent"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hi there.\n"
    assert user_messages(srv.requests[0]) == ["hello agent"]
    typo = runner.invoke(app, ["thread"])
    assert typo.exit_code == 2
    assert srv.calls == 1


def test_no_question_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask"], input="")
    assert result.exit_code == 2
    assert "no question" in result.stderr


def test_no_model_exits_2_with_guidance(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", "hello"])
    assert result.exit_code == 2
    assert "No model is configured" in result.stderr
    assert "OPENAI_API_KEY" in result.stderr
    assert "Traceback" not in result.output


def test_rejected_credentials_is_one_clear_line(
    runner: CliRunner, model_server: StartServer
) -> None:
    model_server([{"status": 401}])
    result = runner.invoke(app, ["ask", "hello"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "rejected the credentials" in lines[0]
    assert "Traceback" not in result.output


def test_unexpected_error_has_no_traceback_unless_debug(
    runner: CliRunner, model_server: StartServer
) -> None:
    model_server([{"status": 400, "message": "bad request from test"}] * 2)
    result = runner.invoke(app, ["ask", "hello"])
    assert result.exit_code == 1
    assert "bad request from test" in result.stderr and "--debug" in result.stderr
    assert "Traceback" not in result.output
    debug = runner.invoke(app, ["ask", "--debug", "hello"])
    assert debug.exit_code == 1
    assert debug.exception is not None  # raised: Python prints the traceback


def test_a_failing_tool_is_named_and_the_answer_still_comes(
    runner: CliRunner, model_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_GEOCODING_URL", closed_url())
    monkeypatch.setenv("AHORA_OPEN_METEO_URL", closed_url())
    monkeypatch.setenv("AHORA_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    srv = model_server(rule=tool_then_answer("weather", {"location": "Lima"}, answer="No data."))
    result = runner.invoke(app, ["ask", "Weather in Lima?"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "No data.\n"
    assert result.stderr.startswith("Weather for Lima failed: ")
    tool_result = srv.requests[1]["messages"][-1]
    assert tool_result["role"] == "tool" and "Error" in tool_result["content"]


def test_verbose_sends_progress_to_stderr(
    runner: CliRunner, model_server: StartServer, weather_server: OpenMeteoServer
) -> None:
    model_server(rule=_weather_rule())
    result = runner.invoke(app, ["ask", "--verbose", "Weather in Santiago?"])
    assert result.exit_code == 0
    assert result.stdout == ANSWER + "\n"
    assert "Weather for Santiago, Chile ..." in result.stderr


def test_threads_list_show_continue_and_rm(runner: CliRunner, model_server: StartServer) -> None:
    srv = model_server(["Paris.", "About 2.1 million.", "Tokyo."])
    first = json.loads(runner.invoke(app, ["ask", "--json", "Capital of France?"]).stdout)
    runner.invoke(app, ["ask", "Capital of Japan?"])
    listed = runner.invoke(app, ["threads"])
    assert listed.exit_code == 0
    assert "Capital of France?" in listed.stdout and "Capital of Japan?" in listed.stdout
    prefix = first["thread_id"][:6]
    cont = runner.invoke(app, ["ask", "--thread", prefix, "How many people live there?"])
    assert cont.exit_code == 0, cont.output
    assert user_messages(srv.requests[2]) == ["Capital of France?", "How many people live there?"]
    assert [m["content"] for m in srv.requests[2]["messages"] if m["role"] == "assistant"] == [
        "Paris."
    ]
    shown = runner.invoke(app, ["threads", "show", prefix])
    assert shown.exit_code == 0
    for text in ("Capital of France?", "Paris.", "How many people live there?", "2 turns"):
        assert text in shown.stdout
    removed = runner.invoke(app, ["threads", "rm", prefix])
    assert removed.exit_code == 0 and first["thread_id"][:8] in removed.stdout
    assert runner.invoke(app, ["threads", "show", prefix]).exit_code == 2
    assert "Capital of France?" not in runner.invoke(app, ["threads"]).stdout


def test_unknown_thread_is_a_usage_error(runner: CliRunner, model_server: StartServer) -> None:
    model_server(["x"])
    result = runner.invoke(app, ["ask", "--thread", "nope", "hi"])
    assert result.exit_code == 2
    assert "no thread 'nope'" in result.stderr


def test_config_path_and_show_masks_secrets(
    runner: CliRunner, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = runner.invoke(app, ["config", "path"]).stdout.strip()
    assert path == str(isolated_env / "config.toml")
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text('units = "imperial"\nmax_steps = 5\n')
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-verysecret-9876")
    monkeypatch.setenv("AHORA_MAX_STEPS", "7")
    monkeypatch.setenv("AHORA_POSTGRES_URL", "postgresql://me:hunter2@db/ahora")
    out = runner.invoke(app, ["config", "show"]).stdout
    assert "verysecret" not in out and "hunter2" not in out
    assert 'openai_api_key = "****9876"' in out
    assert "postgresql://me:****@db/ahora" in out
    assert 'units = "imperial"' in out and "# config file" in out
    assert "max_steps = 7" in out  # the environment wins over the file


def test_models_says_which_and_why(
    runner: CliRunner, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text('model = "openai:from-file"\n')
    out = runner.invoke(app, ["models"]).stdout
    assert "openai:from-file" in out and "config file" in out
    assert "openai" in out and "anthropic not installed" in out
    monkeypatch.setenv("AHORA_MODEL", "openai:from-env")
    out = runner.invoke(app, ["models"]).stdout
    assert "openai:from-env" in out and "AHORA_MODEL" in out
    out = runner.invoke(app, ["models", "--model", "openai:from-flag"]).stdout
    assert "openai:from-flag" in out and "--model" in out


def test_models_without_any_model_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 2
    assert "No model is configured" in result.stderr


def test_tools_lists_names_and_descriptions(runner: CliRunner) -> None:
    result = runner.invoke(app, ["tools", "--json"])
    assert result.exit_code == 0
    tools = {json.loads(line)["name"]: json.loads(line) for line in result.stdout.splitlines()}
    assert {"web_search", "read_page", "weather", "calculator", "clock"} <= set(tools)
    assert tools["weather"]["description"] and tools["weather"]["origin"] == "builtin"
    table = runner.invoke(app, ["tools", "--refresh"]).stdout
    assert "weather" in table and "Open-Meteo" in table


def test_version_and_help_document_exit_codes(runner: CliRunner) -> None:
    assert runner.invoke(app, ["--version"]).stdout == f"ahora {__version__}\n"
    help_text = runner.invoke(app, ["ask", "--help"]).stdout
    assert "130" in help_text and "--max-steps" in help_text and "--model" in help_text


def test_bad_option_value_exits_2(runner: CliRunner) -> None:
    assert runner.invoke(app, ["ask", "--max-steps", "0", "hi"]).exit_code == 2


def test_flags_override_the_environment(runner: CliRunner, model_server: StartServer) -> None:
    srv = model_server(["ok"])
    result = runner.invoke(app, ["ask", "--json", "--model", "openai:flag-model", "hi"])
    assert result.exit_code == 0, result.output
    assert srv.requests[0]["model"] == "flag-model"


def test_tools_option_limits_the_tools(runner: CliRunner, model_server: StartServer) -> None:
    from ahora.tools.registry import available_tools

    srv = model_server(["ok", "ok"])
    runner.invoke(app, ["ask", "--tools", "calculator,clock", "hi"])
    names = [t["function"]["name"] for t in srv.requests[0]["tools"]]
    assert sorted(names) == ["calculator", "clock"]
    # "*" is the default tools; agent:NAME adds another agent beside them.
    runner.invoke(app, ["ask", "--tools", "*,agent:chef", "hi"])
    names = [t["function"]["name"] for t in srv.requests[1]["tools"]]
    assert names == [*available_tools(settings=get_settings()), "chef"]
    bad = runner.invoke(app, ["ask", "--tools", "nope", "hi"])
    assert bad.exit_code == 2 and "unknown tool 'nope'" in bad.stderr


def test_models_probes_each_configured_server_and_says_which_answered(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenAIServer(script=["hi"], models=["served-model"]) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        out = runner.invoke(app, ["models"]).stdout
    assert "openai:served-model" in out
    assert f"✓ {srv.base_url}/models answered: 1 model (served-model)" in out
    assert "✗ http://127.0.0.1:9/api/tags" in out  # OLLAMA_HOST, dead in tests


def test_models_reports_a_dead_openai_base_url(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    out = runner.invoke(app, ["models"], terminal_width=200).stdout
    assert "✗ http://127.0.0.1:9/v1/models: could not connect" in out
    assert "did not list its" in out
    assert "auto-detected" not in out


def test_timeout_cuts_a_slow_model_and_lands_within_a_second(
    runner: CliRunner, model_server: StartServer
) -> None:
    first_request: list[float] = []

    def rule(body: dict[str, Any]) -> Any:
        first_request.append(time.monotonic())
        if last_message_is_tool_result(body):
            return {"content": "Too late.", "delay": 3}
        return {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]}

    model_server(rule=rule)
    result = runner.invoke(app, ["ask", "--json", "--timeout", "2", "What is 6*7?"])
    took = time.monotonic() - first_request[0]  # the run, from its first model call
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert took < 2 + 1, took  # was 2 + 3 + 3 s: the slow call, then one more
    assert data["stopped_early"] is True and "time limit" in data["stop_reason"]
    assert "6*7 = 42" in data["answer"]  # the summary of what was gathered
