"""``ahora ask --schema SPEC``: the typed value on stdout, its sources on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer

ADA = {"name": "Ada", "age": 36}


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": args}]}


@pytest.mark.parametrize("form", ["concise", "file", "class"])
def test_schema_in_the_three_syntaxes(
    form: str,
    model_server: Callable[..., OpenAIServer],
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ahora.schemas import parse_concise

    monkeypatch.setenv("AHORA_HOME", str(tmp_path / "home"))
    if form == "concise":
        spec, tool = "name, age int", "answer"
    elif form == "file":
        monkeypatch.chdir(tmp_path)
        (tmp_path / "person.json").write_text(
            json.dumps({**parse_concise("name, age int"), "title": "Person"})
        )
        spec, tool = "person.json", "Person"
    else:
        spec, tool = "tests.cli.test_ask_schema:PersonModel", "PersonModel"
    server = model_server([_call(tool, ADA)])
    result = runner.invoke(app, ["ask", "--schema", spec, "Who is Ada?"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip()) == ADA
    sent = server.requests[0]
    assert tool in {t["function"]["name"] for t in sent["tools"]}


def test_json_nests_the_value_and_the_sources(
    model_server: Callable[..., OpenAIServer],
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AHORA_HOME", str(tmp_path))
    model_server([_call("answer", ADA)])
    result = runner.invoke(app, ["ask", "--json", "--schema", "name, age int", "Who?"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["output"] == ADA and "sources" in payload


def test_a_bad_schema_is_named_and_spends_nothing(
    model_server: Callable[..., OpenAIServer],
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AHORA_HOME", str(tmp_path))
    server = model_server(["unused"])
    result = runner.invoke(app, ["ask", "--schema", "age list", "Who?"])
    assert result.exit_code != 0
    assert "list" in result.output and "Traceback" not in result.output
    assert not server.requests


def test_no_value_of_the_shape_exits_1_and_says_why(
    model_server: Callable[..., OpenAIServer],
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AHORA_HOME", str(tmp_path))
    model_server([], fallback=_call("answer", {"name": "Ada"}))
    result = runner.invoke(app, ["ask", "--schema", "name, age int", "--max-steps", "2", "Who?"])
    assert result.exit_code == 1
    assert result.stdout.strip() == ""
    assert "requested shape" in result.output and "age" in result.output


from pydantic import BaseModel  # noqa: E402


class PersonModel(BaseModel):
    name: str
    age: int
