"""``ahora threads export``: errors are one line and an exit code, and leave no file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer
from tests.cli.saved_threads import (
    _one_error_line,
    _save_thread,
    _unreachable_postgres,
)


def test_export_to_a_missing_folder_is_one_error_line(runner: CliRunner) -> None:
    _save_thread()
    result = runner.invoke(app, ["threads", "export", "-o", "/nonexistent/x.jsonl"])
    assert result.exit_code == 2
    assert "/nonexistent/x.jsonl" in _one_error_line(result)


def test_export_of_an_unknown_thread_leaves_no_file(runner: CliRunner, tmp_path: Path) -> None:
    _save_thread()
    folder = tmp_path / "exports"
    folder.mkdir()
    result = runner.invoke(app, ["threads", "export", "-o", str(folder / "out.jsonl"), "nope"])
    assert result.exit_code == 2
    assert "nope" in _one_error_line(result)
    assert list(folder.iterdir()) == []


def test_export_with_unreachable_postgres_is_one_error_line(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unreachable_postgres(monkeypatch)
    result = runner.invoke(app, ["threads", "export"])
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "secret" not in line
    assert runner.invoke(app, ["threads", "export", "--debug"]).exception is not None


def test_export_names_no_thread_the_other_commands_deny(
    runner: CliRunner, model_server: Callable[..., OpenAIServer]
) -> None:
    """A first turn that failed (here HTTP 500; in the report, the context window) is
    undone and unlisted; export must not then report it as "Skipped ...", and its
    leftover checkpoint goes with it."""
    model_server([{"status": 500}, "Paris."])
    failed = runner.invoke(app, ["ask", "--json", "first question"])
    assert failed.exit_code == 1
    assert runner.invoke(app, ["threads", "--json"]).stdout == ""
    empty = runner.invoke(app, ["threads", "export"])
    assert empty.exit_code == 0
    assert "Skipped" not in empty.stderr and empty.stdout == ""
    answered = runner.invoke(app, ["ask", "--json", "Capital of France?"])
    assert answered.exit_code == 0, answered.output
    exported = runner.invoke(app, ["threads", "export"])
    assert exported.exit_code == 0, exported.output
    assert "Skipped" not in exported.stderr, exported.stderr
    assert len(exported.stdout.splitlines()) == 1 and "Paris." in exported.stdout
