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


# --- a gated tool inside a sub-agent: the caller's terminal asks ---------------------------

BOSS = 'name = "boss"\ndescription = "Delegates."\ninstructions = "You are the boss."\n'
WORKER = (
    'name = "worker"\ndescription = "Looks up the weather."\n'
    'instructions = "You are the worker."\ntools = ["weather"]\napproval = ["weather"]\n'
)
QUESTION = "Weather in Santiago, Chile?"
CALL = {"name": "weather", "args": {"location": "Santiago, Chile"}}


def boss_and_worker(body: dict[str, Any]) -> Any:
    """The boss hands the question ("Weather in PLACE?") to the worker as its task; the
    worker's weather call for PLACE needs approval."""
    system = str(body["messages"][0]["content"])
    question = next(str(m["content"]) for m in body["messages"] if m["role"] == "user")
    place = question.removeprefix("Weather in ").rstrip("?")
    results = [str(m["content"]) for m in body["messages"] if m["role"] == "tool"]
    if "You are the worker" in system:
        if results:
            ran = "declined" not in results[-1]
            return f"Worker: 21 °C in {place}." if ran else "Worker: the lookup was declined."
        return {"tool_calls": [{"name": "weather", "arguments": {"location": place}}]}
    if "You are the boss" in system and not results:
        return {"tool_calls": [{"name": "worker", "arguments": {"task": question}}]}
    return "Boss: " + (results[-1].split("\n")[1] if results else "nothing")


@pytest.fixture
def boss(isolated_env: Path) -> None:
    folder = isolated_env / "agents"
    folder.mkdir(parents=True)
    (folder / "boss.toml").write_text(BOSS + 'tools = ["agent:worker"]\n')
    (folder / "worker.toml").write_text(WORKER)


def _asked_on_a_terminal(profile: str, reply: str) -> tuple[str, str]:
    """``ahora ask --agent PROFILE`` on a pseudo-terminal: the approval question as the
    screen shows it (pyte), answered ``reply``; and everything the screen showed."""
    import io

    import pyte

    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ahora", "ask", "--agent", profile, QUESTION],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(30, 100),
    )
    child.logfile_read = seen = io.StringIO()
    child.expect(r"\[y/n\]\S* \S*\(n\)\S*: ")
    screen = pyte.Screen(100, 30)
    pyte.Stream(screen).feed(seen.getvalue())
    [asked] = [line.rstrip() for line in screen.display if line.startswith("? Allow")]
    child.sendline(reply)
    child.expect(pexpect.EOF)
    child.close()
    out = _ANSI.sub("", seen.getvalue())
    assert child.exitstatus == 0, out
    assert "Traceback" not in out
    return asked, out


@pytest.mark.slow
@pytest.mark.parametrize("reply", ["y", "n"])
def test_a_sub_agents_gated_tool_is_asked_on_the_callers_terminal(
    model_server: StartServer, weather_server: Any, boss: None, reply: str
) -> None:
    """``boss`` calls ``agent:worker``, whose weather call needs approval: ``ahora ask
    --agent boss`` asks the same question ``--agent worker`` asks for its own call; yes
    runs the call once, no runs nothing, and the boss's answer arrives either way."""
    model_server(rule=boss_and_worker)
    own, _ = _asked_on_a_terminal("worker", "n")
    assert own == f"? Allow {format_call(CALL)} [y/n] (n):"
    before = len(weather_server.requests_to("/v1/forecast"))
    asked, out = _asked_on_a_terminal("boss", reply)
    assert asked == own  # the same question as the worker's own
    ran = len(weather_server.requests_to("/v1/forecast")) - before
    if reply == "y":
        assert ran == 1
        assert "Boss: Worker: 21 °C in Santiago, Chile." in out
    else:
        assert ran == 0
        assert "Boss: Worker: the lookup was declined." in out


@pytest.mark.parametrize("yes", [True, False])
def test_a_sub_agents_gated_tool_with_yes_or_piped(
    runner: CliRunner, model_server: StartServer, weather_server: Any, boss: None, yes: bool
) -> None:
    """Without a terminal the sub-agent's call is declined and stderr says so; ``--yes``
    approves it: the same as the caller's own gated tools."""
    model_server(rule=boss_and_worker)
    flags = ["--yes", "--verbose"] if yes else []
    result = runner.invoke(app, ["ask", "--json", *flags, "--agent", "boss", QUESTION])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ran = len(weather_server.requests_to("/v1/forecast"))
    said = format_call(CALL)
    if yes:
        assert (ran, data["answer"]) == (1, "Boss: Worker: 21 °C in Santiago, Chile.")
        assert f"Approved {said} (--yes)." in result.stderr
    else:
        assert (ran, data["answer"]) == (0, "Boss: Worker: the lookup was declined.")
        assert f"Declined {said}: it needs approval" in result.stderr
    assert data["pending_approvals"] == []
