"""A saved thread driven far past the model's context window keeps answering, and keeps
every turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer, prompt_tokens

StartServer = Callable[..., OpenAIServer]

WINDOW = 4_000


def question(n: int) -> str:
    return f"Question number {n}: " + "tell me more about the history of this. " * 15


def answer_rule(body: dict[str, Any]) -> str:
    return "An answer of some length. " * 30


def test_a_thread_past_the_window_answers_twelve_turns_and_shows_them_all(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(rule=answer_rule, context_window=WINDOW)
    for n in range(1, 13):
        args = ["ask", question(n)] if n == 1 else ["ask", "--thread", "last", question(n)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (n, result.output)
        assert result.stdout.startswith("An answer of some length."), n
    refused = [i for i, body in enumerate(srv.requests) if prompt_tokens(body) > WINDOW]
    assert refused, "the thread never reached the window: the test proves nothing"
    assert len(srv.requests) == 12 + len(refused)  # each refusal: one retry, which fit
    assert all(i + 1 < len(srv.requests) for i in refused)
    assert sum(prompt_tokens(b) for b in srv.requests) < 12 * WINDOW
    shown = runner.invoke(app, ["threads", "show", "last"])
    assert shown.exit_code == 0, shown.output
    assert "12 turns" in shown.stdout
    for n in range(1, 13):
        assert f"Question number {n}:" in shown.stdout


def test_a_turn_that_cannot_fit_is_one_clear_line_and_the_thread_goes_on(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(rule=answer_rule, context_window=WINDOW)
    assert runner.invoke(app, ["ask", question(1)]).exit_code == 0
    huge = runner.invoke(app, ["ask", "--thread", "last", "word " * 20_000])
    assert huge.exit_code == 1
    lines = huge.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: this turn does not fit")
    assert "new thread" in lines[0] and "--debug" not in lines[0]
    assert len(srv.requests) == 3  # the first turn, then the huge one and one retry
    after = runner.invoke(app, ["ask", "--thread", "last", question(2)])
    assert after.exit_code == 0, after.output
    shown = runner.invoke(app, ["threads", "show", "last"]).stdout
    assert "Question number 1:" in shown and "Question number 2:" in shown
    assert "word word" not in shown  # the failed turn was undone
