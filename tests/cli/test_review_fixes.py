"""What a code review of the CLI found: errors as one line, ``threads rm`` order with
PostgreSQL, user text never read as rich markup, ``ask`` closing its session."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from ahora.cli.main import app
from ahora.cli.session import Session
from ahora.cli.threads_cmd import print_threads
from ahora.settings import get_settings
from ahora.testing.openai_server import OpenAIServer
from ahora.threads import ThreadIndex

StartServer = Callable[..., OpenAIServer]

MARKUP_TITLE = "why does [/bold] break?"
MARKUP_ANSWER = "use arr[i] then [b]x[/b]"


def _save_thread(thread_id: str = "abc123", question: str = "hello", answer: str = "hi") -> None:
    with ThreadIndex.for_settings(get_settings()) as index:
        index.finish_turn(thread_id, question=question, answer=answer)


def _one_error_line(result: Result) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def _unreachable_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://me:secret@127.0.0.1:{port}/ahora?connect_timeout=2"
    monkeypatch.setenv("AHORA_POSTGRES_URL", url)


# -- 1. errors are one line and an exit code --------------------------------------------


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


# -- 2. rm deletes from the checkpointer first -------------------------------------------


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


# -- 3. user text is not markup ----------------------------------------------------------


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


def test_tools_shows_descriptions_with_brackets(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # ./tools: a short origin, so the description fits
    folder = tmp_path / "tools"
    folder.mkdir()
    (folder / "lookup.py").write_text(
        "from langchain_core.tools import tool\n\n\n"
        "@tool\ndef lookup(key: str) -> str:\n"
        '    """Read arr[i] from [b]tables[/b]."""\n'
        "    return key\n"
    )
    result = runner.invoke(app, ["tools"])
    assert result.exit_code == 0, result.output
    assert "Read arr[i] from [b]tables[/b]." in result.stdout


# -- 4. ask closes its session when the run fails ----------------------------------------


def test_ask_closes_the_session_when_the_run_fails(
    runner: CliRunner, model_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_server([{"status": 401}])
    closed: list[Session] = []
    close = Session.close

    def recording_close(self: Session) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(Session, "close", recording_close)
    result = runner.invoke(app, ["ask", "hello"])
    assert result.exit_code == 1
    assert len(closed) == 1
