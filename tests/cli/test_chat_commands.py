"""The chat REPL's slash commands, driven through piped stdin (each line a command or a
turn; what the commands say goes to stderr, answers to stdout)."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer
from tests.cli.conftest import user_messages

StartServer = Callable[..., OpenAIServer]


def test_help_lists_every_command(runner: CliRunner, model_server: StartServer) -> None:
    srv = model_server([])
    result = runner.invoke(app, ["chat"], input="/help\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    for command in ("/new", "/threads", "/resume ID", "/tools", "/model NAME", "/usage", "/exit"):
        assert command in result.stderr
    assert srv.calls == 0  # a command is not a question


def test_tools_lists_the_agents_tools(runner: CliRunner, model_server: StartServer) -> None:
    model_server([])
    result = runner.invoke(app, ["chat", "--tools", "calculator,clock"], input="/tools\n")
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.stderr.splitlines() if line.strip()]
    assert names == ["calculator", "clock"]
    assert "math expression" in result.stderr or "Evaluate" in result.stderr


def test_model_shows_and_switches_the_model_keeping_the_thread(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["One.", "Two."])
    lines = "/model\nFirst?\n/model openai:other-model\n/model\nSecond?\n"
    result = runner.invoke(app, ["chat"], input=lines)
    assert result.exit_code == 0, result.output
    assert result.stdout == "One.\nTwo.\n"
    assert [r["model"] for r in srv.requests] == ["test-model", "other-model"]
    assert user_messages(srv.requests[1]) == ["First?", "Second?"]  # same conversation
    shown = [line for line in result.stderr.splitlines() if line.startswith("Model:")]
    assert shown[0] == "Model: test-model"
    assert "other-model" in shown[1] and shown[-1] == "Model: other-model"


def test_new_starts_an_empty_thread_and_resume_goes_back(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["One.", "Two.", "Three."])
    lines = "First?\n/new\nSecond?\n/resume last\nThird?\n"
    result = runner.invoke(app, ["chat"], input=lines)
    assert result.exit_code == 0, result.output
    assert user_messages(srv.requests[0]) == ["First?"]
    assert user_messages(srv.requests[1]) == ["Second?"]  # /new: nothing carried over
    # "last" is the thread updated most recently: the one with Second?
    assert user_messages(srv.requests[2]) == ["Second?", "Third?"]
    assert "New thread " in result.stderr
    assert "Resumed " in result.stderr and ": Second? (1 turn)." in result.stderr


def test_resume_by_id_prefix(runner: CliRunner, model_server: StartServer) -> None:
    import json

    srv = model_server(["One.", "Two.", "Three."])
    first = json.loads(runner.invoke(app, ["ask", "--json", "First?"]).stdout)["thread_id"]
    lines = f"Other?\n/resume {first[:8]}\nBack?\n"
    result = runner.invoke(app, ["chat"], input=lines)
    assert result.exit_code == 0, result.output
    assert user_messages(srv.requests[2]) == ["First?", "Back?"]


def test_exit_leaves_and_later_lines_are_not_asked(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["One.", "never"])
    result = runner.invoke(app, ["chat"], input="Hi\n/exit\nNot asked\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "One.\n" and srv.calls == 1


def test_unknown_commands_and_paths_that_look_like_commands(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["About hosts."])
    result = runner.invoke(app, ["chat"], input="/frobnicate\n/etc/hosts what is it?\n")
    assert result.exit_code == 0, result.output
    assert "Unknown command /frobnicate; /help lists them." in result.stderr
    assert user_messages(srv.requests[0]) == ["/etc/hosts what is it?"]
    assert result.stdout == "About hosts.\n"


def test_model_with_a_bare_name_keeps_the_provider(
    runner: CliRunner, model_server: StartServer
) -> None:
    """``/model gpt-4o`` was refused ("has no provider"); the provider in use is meant."""
    srv = model_server(["One."])
    result = runner.invoke(app, ["chat"], input="/model other-model\nFirst?\n")
    assert result.exit_code == 0, result.output
    assert "Error" not in result.stderr, result.stderr
    assert [r["model"] for r in srv.requests] == ["other-model"]
    assert "Model: other-model\n" in result.stderr  # said the same way as /model alone
