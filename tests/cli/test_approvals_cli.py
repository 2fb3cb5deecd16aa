"""Tool calls that need approval, in the CLI: ``--yes``, piped (rejected, said on
stderr, the run goes on), and y/n on a real terminal (pexpect). The gate comes from
a profile TOML (``approval = ["calculator"]``) passed as ``--agent path.toml``."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect
import pytest
from typer.testing import CliRunner

from ahora.cli.approvals import format_call
from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer, tool_then_answer

StartServer = Callable[..., OpenAIServer]
_ANSI = re.compile(r"\x1b\][^\x1b]*\x1b\\|\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def careful(tmp_path: Path) -> str:
    """A profile whose calculator needs approval."""
    path = tmp_path / "careful.toml"
    path.write_text(
        'name = "careful"\ndescription = "Asks before calculating."\n'
        'instructions = "Be careful."\ntools = ["calculator", "clock"]\n'
        'approval = ["calculator"]\n'
    )
    return str(path)


def _calc_then(answer: str) -> Any:
    return tool_then_answer("calculator", {"expression": "6*7"}, answer=answer)


def _tool_result(srv: OpenAIServer, request: int = 1) -> dict[str, Any]:
    message: dict[str, Any] = srv.requests[request]["messages"][-1]
    assert message["role"] == "tool"
    return message


def test_yes_runs_the_gated_tool(
    runner: CliRunner, model_server: StartServer, careful: str
) -> None:
    srv = model_server(rule=_calc_then("It is 42."))
    result = runner.invoke(app, ["ask", "--json", "--yes", "--agent", careful, "6 times 7?"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] == "It is 42." and data["pending_approvals"] == []
    assert "42" in _tool_result(srv)["content"]
    assert "Declined" not in result.stderr
    verbose = runner.invoke(app, ["ask", "-y", "-v", "--agent", careful, "6 times 7?"])
    assert 'Approved calculator(expression="6*7") (--yes).' in verbose.stderr


def test_piped_without_yes_rejects_and_the_run_goes_on(
    runner: CliRunner, model_server: StartServer, careful: str
) -> None:
    srv = model_server(rule=_calc_then("I could not calculate it."))
    result = runner.invoke(app, ["ask", "--agent", careful, "6 times 7?"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "I could not calculate it.\n"
    assert 'Declined calculator(expression="6*7"): it needs approval' in result.stderr
    assert "pass --yes" in result.stderr
    tool = _tool_result(srv)
    assert "declined" in tool["content"] and "42" not in tool["content"]
    # The turn is saved whole: question, the declined call, the answer.
    shown = runner.invoke(app, ["threads", "show", "last"])
    assert "I could not calculate it." in shown.stdout


def test_piped_chat_rejects_and_keeps_going(
    runner: CliRunner, model_server: StartServer, careful: str
) -> None:
    srv = model_server(rule=_calc_then("Skipped."))
    result = runner.invoke(app, ["chat", "--agent", careful], input="6*7?\nAgain?\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Skipped.\nSkipped.\n"
    assert result.stderr.count("Declined calculator") == 2
    assert srv.calls == 4


def test_format_call_shows_name_and_json_arguments() -> None:
    assert format_call({"name": "f", "args": {"a": "x", "n": 2}}) == 'f(a="x", n=2)'
    assert format_call({"name": "g", "args": {"s": "y" * 500}}, limit=20) == (
        'g(s="' + "y" * 20 + '"… (+480 chars))'
    )


@pytest.mark.slow
def test_terminal_asks_y_or_n_for_each_call(model_server: StartServer, careful: str) -> None:
    srv = model_server(rule=_calc_then("The answer is 42."))
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ahora", "chat", "--agent", careful],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(30, 120),
    )
    child.expect("/help for commands")
    child.expect("›")
    child.sendline("What is 6 times 7?")
    child.expect(r"Allow \S*calculator\(expression=\"6\*7\"\)\S* \S*\[y/n\]")
    child.sendline("y")
    child.expect("The answer is 42.")
    child.expect("›")
    assert "42" in _tool_result(srv)["content"]
    child.sendline("And again?")
    child.expect(r"Allow \S*calculator")
    child.sendline("n")
    child.expect("The answer is 42.")
    child.expect("›")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    out = _ANSI.sub("", child.before or "")
    assert child.exitstatus == 0, out
    assert "declined" in _tool_result(srv, 3)["content"]
    assert "Traceback" not in out
