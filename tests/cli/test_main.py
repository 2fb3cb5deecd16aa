"""The ``ahora`` command itself (``cli/main.py``): the ``ahora "QUESTION"`` shorthand
with options before the question, typos of commands refused before anything is
spent, the command list, and the options ``ask`` and ``chat`` share declared once."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ahora.cli
from ahora.cli import ask_cmd, chat_cmd
from ahora.cli.main import app, close_command, edit_distance
from ahora.testing.openai_server import OpenAIServer
from tests.cli.conftest import user_messages

StartServer = Callable[..., OpenAIServer]


@pytest.mark.parametrize(
    ("args", "question"),
    [
        (["--model", "openai:test-model", "hi there"], "hi there"),
        (["-m", "openai:test-model", "hi", "there"], "hi there"),
        (["--max-steps=3", "-q", "what is 1+1"], "what is 1+1"),
        (["-vq", "what is 1+1"], "what is 1+1"),
        (["-q", "hi"], "hi"),  # a lone word after options is a question
        (["--model", "openai:test-model", "hi"], "hi"),
    ],
)
def test_options_before_the_question(
    runner: CliRunner, model_server: StartServer, args: list[str], question: str
) -> None:
    srv = model_server(["Two."])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Two.\n"
    assert user_messages(srv.requests[0]) == [question]


def test_json_and_verbose_before_the_question(runner: CliRunner, model_server: StartServer) -> None:
    model_server(["Two.", "Hello."])
    as_json = runner.invoke(app, ["--json", "what is 1+1"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["answer"] == "Two."
    verbose = runner.invoke(app, ["-v", "hi there"])
    assert verbose.exit_code == 0, verbose.output
    assert "Thinking ..." in verbose.stderr


def test_options_before_a_command_go_to_the_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--no-color", "tools"])
    assert result.exit_code == 0, result.output
    assert "calculator" in result.stdout


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (["chta"], "ahora chat"),
        (["aks", "hi"], "ahora ask hi"),
        (["treads"], "ahora threads"),
        (["--json", "chta"], "ahora chat"),
        (["modles"], "ahora models"),
    ],
)
def test_a_typo_of_a_command_spends_nothing(
    runner: CliRunner, model_server: StartServer, args: list[str], meant: str
) -> None:
    srv = model_server(["Should never be asked."])
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"Did you mean `{meant}`?" in result.stderr
    assert srv.calls == 0
    assert runner.invoke(app, ["threads", "--json"]).stdout == ""


def test_a_lone_word_is_not_a_paid_question(runner: CliRunner, model_server: StartServer) -> None:
    srv = model_server(["Should never be asked."])
    result = runner.invoke(app, ["weather"])
    assert result.exit_code == 2
    assert 'ahora ask "weather"' in result.stderr
    assert srv.calls == 0
    asked = runner.invoke(app, ["ask", "weather"])  # the explicit form still asks
    assert asked.exit_code == 0 and srv.calls == 1


@pytest.mark.parametrize(
    "args", [["does", "it", "rain", "today"], ["what", "time", "is", "it"], ["weather?"]]
)
def test_questions_that_start_near_a_command_are_asked(
    runner: CliRunner, model_server: StartServer, args: list[str]
) -> None:
    srv = model_server(["Yes."])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert srv.calls == 1


def test_edit_distance_counts_swaps_and_is_symmetric() -> None:
    cases = {("chta", "chat"): 1, ("aks", "ask"): 1, ("treads", "threads"): 1, ("ab", "ba"): 1}
    cases |= {("kitten", "sitting"): 3, ("", "abc"): 3, ("docs", "docs"): 0}
    for (a, b), want in cases.items():
        assert edit_distance(a, b) == want
        assert edit_distance(b, a) == want
    assert close_command("chta", ["ask", "chat"]) == "chat"
    assert close_command("does", ["docs"]) is None  # a question word, not a typo
    assert close_command("santiago", ["ask", "chat", "threads"]) is None


@pytest.mark.parametrize("group", [[], ["docs"], ["threads"], ["agents"], ["config"]])
def test_help_lists_every_command_whole(runner: CliRunner, group: list[str]) -> None:
    result = runner.invoke(app, [*group, "--help"], terminal_width=80)
    commands = result.stdout.split("Commands:")[1]
    assert "..." not in commands, commands
    if not group:
        assert "read it from stdin" in " ".join(commands.split())


def test_ask_and_chat_share_one_declaration_of_their_options(runner: CliRunner) -> None:
    """A run option is declared once (``common._run_options``), not copied per command."""
    from ahora.cli.common import _run_options

    shared = set(inspect.signature(_run_options).parameters)
    for module in (ask_cmd, chat_cmd):
        source = inspect.getsource(module)
        assert "MaxTokensOpt" not in source and "max_tokens=" not in source
    for command in ("ask", "chat"):
        help_text = runner.invoke(app, [command, "--help"], terminal_width=200).stdout
        for name in shared:
            assert "--" + name.replace("_", "-") in help_text, (command, name)


def test_the_default_profile_is_named_once() -> None:
    src = Path(ahora.cli.__file__).parent.parent  # all of src/ahora
    spelled = [
        f"{path.name}:{n}"
        for path in sorted(src.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"""(?<![=!<>])=\s*["']assistant["']""", line)  # not a role test ==
    ]
    assert len(spelled) == 1, spelled


def test_an_unknown_provider_says_what_was_meant(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--model", "opnai:gpt-4o", "hi there"])
    assert result.exit_code == 2
    assert "did you mean openai:gpt-4o?" in result.stderr
