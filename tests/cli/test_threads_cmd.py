"""``ahora threads``: ``rm`` deletes from the checkpointer first; user text is never
read as rich markup."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.cli.threads_cmd import print_threads
from ahora.settings import get_settings
from ahora.threads import ThreadIndex
from tests.cli.saved_threads import (
    MARKUP_ANSWER,
    MARKUP_TITLE,
    _one_error_line,
    _save_thread,
    _unreachable_postgres,
)


def test_rm_with_unreachable_postgres_keeps_the_thread(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save_thread("abc123", question="keep me")
    _unreachable_postgres(monkeypatch)
    result = runner.invoke(app, ["threads", "rm", "abc"])
    assert result.exit_code == 2
    _one_error_line(result)
    monkeypatch.delenv("AHORA_POSTGRES_URL")  # with it set, the list itself lives there
    assert "keep me" in runner.invoke(app, ["threads"]).stdout


def test_threads_list_shows_titles_with_brackets(runner: CliRunner) -> None:
    _save_thread(question=MARKUP_TITLE)
    result = runner.invoke(app, ["threads"])
    assert result.exit_code == 0, result.output
    assert MARKUP_TITLE in result.stdout


def test_print_threads_on_a_console_shows_brackets() -> None:
    """What chat's ``/threads`` draws."""
    _save_thread(question=MARKUP_TITLE)
    with ThreadIndex.for_settings(get_settings()) as index:
        threads = index.list()
    out = io.StringIO()
    print_threads(Console(file=out, width=100, _environ={}), threads)
    assert MARKUP_TITLE in out.getvalue()


def test_threads_show_piped_prints_the_answer_as_written(runner: CliRunner) -> None:
    _save_thread(question=MARKUP_TITLE, answer=MARKUP_ANSWER)
    result = runner.invoke(app, ["threads", "show", "abc"])
    assert result.exit_code == 0, result.output
    assert MARKUP_TITLE in result.stdout
    assert MARKUP_ANSWER + "\n" in result.stdout
