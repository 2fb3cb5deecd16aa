"""Saved threads and error lines for the CLI tests of ``threads``, ``export`` and ``rm``."""

from __future__ import annotations

import socket

import pytest
from typer.testing import Result

from ahora.settings import get_settings
from ahora.threads import ThreadIndex

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
