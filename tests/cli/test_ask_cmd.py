"""``ahora ask``: one question, one answer; the session is closed whatever happens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.cli.session import Session
from ahora.testing.openai_server import OpenAIServer

StartServer = Callable[..., OpenAIServer]


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
