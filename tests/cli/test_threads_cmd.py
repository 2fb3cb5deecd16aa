"""``ahora threads`` and ``threads show`` as people see them: on an 80- and a
200-column terminal (pexpect, read back through pyte) and piped."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ahora.cli.console import SafeConsole
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
from tests.cli.screen import screen_of

pytestmark = pytest.mark.slow

LONG_QUESTION = "What is the weather tomorrow in Santiago de Chile and should I take an umbrella?"
LONG_URL = "https://example.org/" + "a-very-long-path-segment/" * 16  # 420 characters
IDS = ("0f3a9c21-0000-4000-8000-000000000001", "7b2e44d0-0000-4000-8000-000000000002")


@pytest.fixture
def saved_threads() -> None:
    with ThreadIndex.for_settings(get_settings()) as index:
        index.finish_turn(
            IDS[0],
            question=LONG_QUESTION,
            answer="Máxima: 29 °C\nMínima: 14 °C",
            sources=[{"url": LONG_URL, "title": "Open-Meteo forecast"}],
            model="openai:gpt-4.1-mini",
        )
        index.finish_turn(
            IDS[1], question="Short one", answer="ok", model="openai:a-model-with-a-long-name-2025"
        )


def _piped(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ahora", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.usefixtures("saved_threads")
@pytest.mark.parametrize("cols", [80, 50, 200])
def test_threads_on_a_terminal_keep_every_id_whole_and_cut_titles(cols: int) -> None:
    lines = screen_of("threads", cols=cols)
    assert lines[0].split()[:2] == ["id", "title"]
    rows = {line[:8]: line for line in lines[1:]}
    assert set(rows) == {i[:8] for i in IDS}  # the ids, whole, first on each line
    long_row = rows[IDS[0][:8]]
    assert len(long_row) <= cols
    if cols < 100:
        assert "What is the weather" in long_row and "…" in long_row  # the title gives way
    else:
        assert LONG_QUESTION[:-1] in long_row and "just now" in long_row


@pytest.mark.usefixtures("saved_threads")
def test_piped_threads_are_whole_and_unpadded() -> None:
    lines = _piped("threads").splitlines()
    assert lines[0].split() == ["id", "title", "updated", "turns", "model"]
    assert all(line == line.rstrip() for line in lines)
    row = next(line for line in lines if line.startswith(IDS[0][:8]))
    assert LONG_QUESTION[:-1] in row and "…" not in row
    assert row.endswith("openai:gpt-4.1-mini")


@pytest.mark.usefixtures("saved_threads")
def test_threads_show_keeps_line_breaks_and_shortens_long_urls_on_a_terminal() -> None:
    lines = screen_of("threads", "show", IDS[0][:8])
    assert "1 turn" in lines[1] and "1 turns" not in lines[1]
    assert "Máxima: 29 °C" in lines and "Mínima: 14 °C" in lines
    url_lines = [line for line in lines if "example.org" in line]
    assert len(url_lines) == 1  # one line, cut with an ellipsis, not hard-wrapped
    assert url_lines[0].startswith("     https://example.org/") and url_lines[0].endswith("…")
    assert max(len(line) for line in lines) <= 80
    assert not any(line.startswith("a-very-long") for line in lines)


@pytest.mark.usefixtures("saved_threads")
def test_piped_threads_show_prints_whole_lines_without_trailing_spaces() -> None:
    out = _piped("threads", "show", IDS[0][:8])
    lines = out.splitlines()
    assert all(line == line.rstrip() for line in lines)
    assert lines[1].endswith("· 1 turn · openai:gpt-4.1-mini")  # not wrapped at 80
    assert f"› {LONG_QUESTION}" in lines
    assert f"  1. Open-Meteo forecast {LONG_URL}" in lines


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


def test_the_threads_summary_names_every_subcommand() -> None:
    summary = CliRunner().invoke(app, ["--help"]).output
    line = next(x for x in summary.splitlines() if x.strip().startswith("threads"))
    assert all(word in line for word in ("show", "delete", "export")), line


def test_a_hostile_title_is_measured_as_shown_and_keeps_the_row_on_one_line() -> None:
    _save_thread(question="hostile \x1b]0;PWNED\x07 title \u202e here and more words to fill")
    with ThreadIndex.for_settings(get_settings()) as index:
        threads = index.list()
    out = io.StringIO()
    console = SafeConsole(file=out, width=60, force_terminal=True, color_system=None, _environ={})
    print_threads(console, threads)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "␛]0;PWNED" in lines[1], lines
    assert all(len(line.rstrip()) <= 60 for line in lines), lines  # else the terminal wraps it


def test_threads_show_measures_hostile_titles_as_shown() -> None:
    """A source title or question with controls stays within the terminal's width."""
    from unittest import mock

    from rich.cells import cell_len

    from ahora.cli.threads_cmd import show

    evil = "\x1b]0;PWNED\x07\u202e"
    with ThreadIndex.for_settings(get_settings()) as index:
        index.finish_turn(
            IDS[0],
            question=f"Question{evil}{evil}{evil}" * 2,
            answer="ok",
            sources=[{"url": "https://a.example/", "title": f"Title{evil}{evil}{evil}" * 3}],
        )
    out = io.StringIO()
    console = SafeConsole(file=out, width=50, force_terminal=True, color_system=None, _environ={})
    with mock.patch("ahora.cli.threads_cmd.make_console", return_value=console):
        show(IDS[0][:8], no_color=True, debug=False)
    lines = out.getvalue().splitlines()
    assert "␛]0;PWNED␇" in out.getvalue() and "\x1b" not in out.getvalue()
    assert all(cell_len(line) <= 50 for line in lines), lines


def test_threads_says_when_it_shows_only_the_recent_ones(runner: CliRunner) -> None:
    for i in range(23):
        _save_thread(f"t{i:02}", question=f"question {i}")
    listed = runner.invoke(app, ["threads", "--json"])
    assert len(listed.stdout.splitlines()) == 20
    assert "20 most recent of 23" in listed.stderr and "--all" in listed.stderr
    every = runner.invoke(app, ["threads", "--all", "--json"])
    assert len(every.stdout.splitlines()) == 23 and every.stderr == ""
