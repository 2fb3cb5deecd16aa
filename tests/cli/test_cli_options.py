"""``ask`` and ``chat`` options: --agent, --docs, budgets, --fallback, --tools-dir, and
the ``agents`` and ``threads export`` commands; in-process (CliRunner) against the
loopback model server, reading what the model was sent from its recorded requests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ahora.cli.chat_cmd import CONTINUE
from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer, last_message_is_tool_result
from tests.cli.conftest import user_messages

StartServer = Callable[..., OpenAIServer]
BUILTINS = {"web_search", "read_page", "weather", "calculator", "clock"}
CALC: dict[str, Any] = {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]}


def _system(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"])


def _tool_names(body: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in body.get("tools") or []}


def test_default_agent_is_the_assistant_with_every_tool(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["Hello."])
    result = runner.invoke(app, ["ask", "hi"])
    assert result.exit_code == 0, result.output
    assert "You are a helpful general assistant." in _system(srv.requests[0])
    assert _tool_names(srv.requests[0]) >= BUILTINS


def test_agent_chef_sends_its_domain_restriction_and_only_its_tools(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["I only help with cooking."])
    result = runner.invoke(app, ["ask", "--agent", "chef", "Who won the match?"])
    assert result.exit_code == 0, result.output
    system = _system(srv.requests[0])
    assert "You are a friendly, experienced chef." in system
    assert "You help ONLY with these topics" in system and "- baking and pastry" in system
    assert _tool_names(srv.requests[0]) == {"web_search", "read_page", "calculator"}


def test_agent_from_a_toml_path_and_unknown_agent(
    runner: CliRunner, model_server: StartServer, tmp_path: Path
) -> None:
    srv = model_server(["Arr."])
    toml = tmp_path / "pirate.toml"
    toml.write_text(
        'name = "pirate"\ndescription = "Talks like a pirate."\n'
        'instructions = "Always answer like a pirate."\ntools = ["clock"]\n'
    )
    result = runner.invoke(app, ["ask", "--agent", str(toml), "time?"])
    assert result.exit_code == 0, result.output
    assert "Always answer like a pirate." in _system(srv.requests[0])
    assert _tool_names(srv.requests[0]) == {"clock"}
    bad = runner.invoke(app, ["ask", "--agent", "nope", "hi"])
    assert bad.exit_code == 2
    assert bad.stderr.count("\n") == 1 and "no profile named 'nope'" in bad.stderr
    assert srv.calls == 1


def _docs(tmp_path: Path) -> Path:
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "refunds.md").write_text(
        "# Refunds\n\nDigital goods can be refunded within 14 days of purchase.\n"
    )
    (folder / "holidays.md").write_text("# Holidays\n\nThe office closes in August.\n")
    return folder


def test_docs_adds_search_docs_and_cites_file_and_line(
    runner: CliRunner, model_server: StartServer, tmp_path: Path
) -> None:
    search = {"tool_calls": [{"name": "search_docs", "arguments": {"query": "refund digital"}}]}
    srv = model_server([search, "Within 14 days (refunds.md:1)."])
    folder = _docs(tmp_path)
    result = runner.invoke(
        app, ["ask", "--json", "--verbose", "--tools", "calculator", "--docs", str(folder), "q"]
    )
    assert result.exit_code == 0, result.output
    assert _tool_names(srv.requests[0]) == {"calculator", "search_docs"}
    data = json.loads(result.stdout)
    assert data["tool_calls"] == [{"name": "search_docs", "args": {"query": "refund digital"}}]
    first = data["sources"][0]
    assert re.fullmatch(r"refunds\.md:\d+", first["title"])
    assert first["url"].startswith((folder / "refunds.md").as_uri() + "#L")
    tool_result = srv.requests[1]["messages"][-1]["content"]
    assert "[1] refunds.md:" in tool_result and "14 days" in tool_result
    assert f"Indexed {folder}: 2 files (2 new" in result.stderr

    # With the profile's tools (all of them for the assistant) plus search_docs.
    srv2 = model_server(["ok"])
    again = runner.invoke(app, ["ask", "--docs", str(folder), "q"])
    assert again.exit_code == 0, again.output
    assert _tool_names(srv2.requests[0]) >= BUILTINS | {"search_docs"}


def test_docs_is_one_off_and_leaves_the_saved_index_as_it_was(
    runner: CliRunner, model_server: StartServer, tmp_path: Path
) -> None:
    """README: ``--docs`` "indexes a one-off folder on the fly and searches only it"."""
    srv = model_server(["ok", "ok again"])
    folder = _docs(tmp_path)
    assert runner.invoke(app, ["ask", "--docs", str(folder), "q"]).exit_code == 0
    listed = runner.invoke(app, ["docs", "list"])
    assert str(folder) not in listed.stdout and "No folders indexed" in listed.stdout
    later = runner.invoke(app, ["ask", "a later question"])
    assert later.exit_code == 0, later.output
    assert "search_docs" not in _tool_names(srv.requests[1])


def test_docs_missing_folder_exits_2_with_one_line(
    runner: CliRunner, model_server: StartServer, tmp_path: Path
) -> None:
    srv = model_server(["never"])
    result = runner.invoke(app, ["ask", "--docs", str(tmp_path / "missing"), "q"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: ") and "missing does not exist" in result.stderr
    assert srv.calls == 0


def test_fallback_answers_when_the_model_fails(
    runner: CliRunner, model_server: StartServer
) -> None:
    def rule(body: dict[str, Any]) -> Any:
        if body["model"] == "test-model":
            return {"status": 500, "message": "primary is down"}
        return "From the backup."

    srv = model_server(rule=rule)
    result = runner.invoke(app, ["ask", "--json", "--fallback", "openai:backup-model", "hi"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answer"] == "From the backup."
    assert [r["model"] for r in srv.requests] == ["test-model", "backup-model"]
    without = runner.invoke(app, ["ask", "hi"])
    assert without.exit_code == 1 and "500" in without.stderr


def test_max_tokens_ends_with_a_stopped_early_answer(
    runner: CliRunner, model_server: StartServer
) -> None:
    big = {**CALC, "usage": {"prompt_tokens": 400, "completion_tokens": 20}}
    srv = model_server([big, "42, but I stopped early."])
    result = runner.invoke(app, ["ask", "--json", "--max-tokens", "100", "6 times 7?"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["stopped_early"] is True and data["answer"] == "42, but I stopped early."
    assert "tools" not in srv.requests[1]  # the last call may not call tools
    assert "token budget of 100 tokens" in _system(srv.requests[1])
    assert "Stopped early: the token budget of 100 tokens is used up." in result.stderr


def test_timeout_ends_with_a_stopped_early_answer(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server([{**CALC, "delay": 0.6}, "Out of time: 42."])
    result = runner.invoke(app, ["ask", "--json", "--timeout", "0.3", "6 times 7?"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stopped_early"] is True
    assert "time limit" in _system(srv.requests[1]) and "tools" not in srv.requests[1]
    assert runner.invoke(app, ["ask", "--timeout", "0", "hi"]).exit_code == 2


def test_tools_dir_adds_local_tools(
    runner: CliRunner, model_server: StartServer, tmp_path: Path
) -> None:
    folder = tmp_path / "mytools"
    folder.mkdir()
    (folder / "greet.py").write_text(
        "from langchain_core.tools import tool\n\n\n"
        "@tool\ndef greet(name: str) -> str:\n"
        '    """Greet someone by name."""\n'
        '    return f"Hello, {name}!"\n'
    )
    call = {"tool_calls": [{"name": "greet", "arguments": {"name": "Ada"}}]}
    srv = model_server(rule=lambda body: "Done." if last_message_is_tool_result(body) else call)
    result = runner.invoke(app, ["ask", "--tools-dir", str(folder), "greet Ada"])
    assert result.exit_code == 0, result.output
    assert _tool_names(srv.requests[0]) >= BUILTINS | {"greet"}
    assert "Hello, Ada!" in srv.requests[1]["messages"][-1]["content"]
    missing = runner.invoke(app, ["ask", "--tools-dir", str(tmp_path / "nope"), "hi"])
    assert missing.exit_code == 2


def test_ask_says_why_a_local_tool_the_agent_needs_failed_to_load(
    runner: CliRunner, model_server: StartServer, tmp_path: Path
) -> None:
    """The cause was printed only by ``ahora tools``; ``ask`` said "unknown tool"."""
    folder = tmp_path / "mytools"
    folder.mkdir()
    (folder / "shout.py").write_text(
        "from langchain_core.tools import tool\n\nundefined_helper()\n\n"
        "@tool\ndef shout(text: str) -> str:\n"
        '    """Shout."""\n    return text.upper()\n'
    )
    toml = tmp_path / "pirate.toml"
    toml.write_text(
        'name = "pirate"\ndescription = "Arr."\ninstructions = "Arr."\ntools = ["shout", "clock"]\n'
    )
    srv = model_server(["never"])
    for command in (["ask", "hi"], ["chat"]):
        result = runner.invoke(
            app, [*command, "--tools-dir", str(folder), "--agent", str(toml)], input="hi\n"
        )
        assert result.exit_code == 2, result.output
        assert "unknown tool 'shout'" in result.stderr
        assert "shout.py" in result.stderr and "NameError" in result.stderr, result.stderr
    assert srv.calls == 0


def test_chat_agent_switch_and_continue_after_a_stop(
    runner: CliRunner, model_server: StartServer
) -> None:
    srv = model_server(["Hello.", "Pasta tonight.", "Then a salad.", "Yes."])
    lines = "Hi\n/agent chef\nDinner idea?\n/continue\n/agent\n"
    result = runner.invoke(app, ["chat", "--max-steps", "1"], input=lines)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello.\nPasta tonight.\nThen a salad.\n"
    assert "You are a helpful general assistant." in _system(srv.requests[0])
    assert "You help ONLY with these topics" not in _system(srv.requests[0])
    assert "You help ONLY with these topics" in _system(srv.requests[1])  # same thread:
    assert user_messages(srv.requests[1]) == ["Hi", "Dinner idea?"]
    assert user_messages(srv.requests[2]) == ["Hi", "Dinner idea?", CONTINUE]
    # --max-steps 1 stops every answer early (the flag beats chef's max_steps = 10).
    hint = "Stopped early: the step budget of 1 model call is used up. /continue to keep going."
    assert result.stderr.count(hint) == 3
    assert "Agent: chef (Cooking and recipes expert" in result.stderr
    bad = runner.invoke(app, ["chat"], input="/agent nope\nStill here?\n")
    assert "Error: no profile named 'nope'" in bad.stderr and bad.stdout == "Yes.\n"
    assert user_messages(srv.requests[-1])[-1] == "Still here?"


def test_agents_and_threads_export_are_mounted(
    runner: CliRunner, model_server: StartServer
) -> None:
    listed = runner.invoke(app, ["agents"])
    assert listed.exit_code == 0
    assert re.search(r"^chef\s+Cooking", listed.stdout, re.M)
    shown = runner.invoke(app, ["agents", "show", "weather"])
    assert shown.exit_code == 0 and "weather, clock" in shown.stdout
    model_server([CALC, "It is 42."])
    asked = json.loads(runner.invoke(app, ["ask", "--json", "6 times 7?"]).stdout)
    exported = runner.invoke(app, ["threads", "export", "last"])
    assert exported.exit_code == 0, exported.output
    row = json.loads(exported.stdout)
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert row["messages"][-1]["content"] == asked["answer"]
    assert "Exported 1 conversation(s)" in exported.stderr
    assert "export" in runner.invoke(app, ["threads", "--help"]).stdout


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_help_lists_the_run_options(runner: CliRunner, command: str) -> None:
    text = runner.invoke(app, [command, "--help"]).stdout
    for option in ("--agent", "--docs", "--max-tokens", "--timeout", "--fallback", "--yes"):
        assert option in text
    assert "--tools-dir" in text


def test_max_cost_reaches_the_budget(runner: CliRunner, model_server: StartServer) -> None:
    expensive = {
        "tool_calls": [{"name": "calculator", "arguments": {"expression": "1+1"}}],
        "usage": {"prompt_tokens": 200_000, "completion_tokens": 0},
    }
    srv = model_server([expensive, expensive, "2, but I stopped early."])
    result = runner.invoke(
        app,
        ["ask", "--json", "--model", "openai:gpt-4.1-mini", "--max-cost", "0.05", "1+1?"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # $0.08 after the first call: the second call is the last, without tools
    assert data["stopped_early"] and data["stop_reason"] == "the cost budget of $0.05 is used up"
    assert len(srv.requests) == 2 and "tools" not in srv.requests[1]
    assert data["cost_usd"] > 0.08
