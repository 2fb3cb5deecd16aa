"""``ahora ask``: one question, one answer; the session is closed whatever happens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.cli.session import Session
from ahora.testing.openai_server import OpenAIServer
from tests.cli.conftest import user_messages

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


@pytest.mark.parametrize(
    "args",
    [
        ["ask", "what", "is", "2+2?"],
        ["ask", "what", "is", "--quiet", "2+2?"],  # options may come between the words
        ["what", "is", "2+2?"],  # the bare question runs ask
    ],
    ids=["ask", "option-between", "bare"],
)
def test_unquoted_words_make_one_question(
    runner: CliRunner, model_server: StartServer, args: list[str]
) -> None:
    srv = model_server(["Four."])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Four.\n"
    assert user_messages(srv.requests[0]) == ["what is 2+2?"]
