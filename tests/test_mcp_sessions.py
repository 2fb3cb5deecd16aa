"""MCP sessions stay open (issue 17, item 4): one server start for many calls, sync
and async; a killed server is reopened on the next call; ``close()`` ends it; the CLI
starts each configured server once per question. The fixture server
(tests/fixtures/mcp_server.py) appends its pid to ``MCP_STARTS_FILE`` on each start."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ahora.mcp import SessionPool, close_sessions, load_server_tools
from ahora.testing.openai_server import OpenAIServer, tool_then_answer

SERVER = Path(__file__).parent / "fixtures" / "mcp_server.py"


@pytest.fixture(autouse=True)
def _sessions_closed() -> Iterator[None]:
    yield
    close_sessions()


def starts(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_dead(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def config(counter: Path) -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": [str(SERVER)],
        "env": {"MCP_STARTS_FILE": str(counter)},
    }


def configured(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo server in the config file of ``home`` (working in ``tmp_path``); the
    file its starts are counted in."""
    counter = tmp_path / "starts"
    monkeypatch.chdir(tmp_path)
    home.mkdir(parents=True, exist_ok=True)
    table = config(counter)
    (home / "config.toml").write_text(
        "[mcp_servers.demo]\n"
        f"command = {json.dumps(table['command'])}\n"
        f"args = {json.dumps(table['args'])}\n"
        f"env = {{ MCP_STARTS_FILE = {json.dumps(str(counter))} }}\n"
    )
    return counter


def add(tools: list[Any], a: int, b: int) -> str:
    tool = next(t for t in tools if t.name == "add")
    msg = tool.invoke({"type": "tool_call", "id": "c", "name": "add", "args": {"a": a, "b": b}})
    return str(msg.content[0]["text"])


def test_one_start_for_many_calls_sync_and_async(tmp_path: Path) -> None:
    counter = tmp_path / "starts"
    pool = SessionPool()
    tools = load_server_tools("demo", config(counter), pool=pool)  # listing opens it
    assert [add(tools, i, 1) for i in range(5)] == [str(i + 1) for i in range(5)]
    tool = next(t for t in tools if t.name == "add")

    async def twice() -> list[Any]:
        return list(
            await asyncio.gather(tool.ainvoke({"a": 1, "b": 1}), tool.ainvoke({"a": 2, "b": 2}))
        )

    assert [r[0]["text"] for r in asyncio.run(twice())] == ["2", "4"]
    assert len(starts(counter)) == 1 and pool.starts("demo") == 1
    pool.close()


def test_a_killed_server_is_reopened_on_the_next_call(tmp_path: Path) -> None:
    counter = tmp_path / "starts"
    pool = SessionPool()
    tools = load_server_tools("demo", config(counter), pool=pool)
    assert add(tools, 1, 2) == "3"
    [first] = starts(counter)
    relay = int(Path(f"/proc/{first}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(first, signal.SIGKILL)
    assert wait_dead(first) and wait_dead(relay)  # the relay noticed and exited
    assert add(tools, 2, 3) == "5"
    assert len(starts(counter)) == 2 and alive(starts(counter)[1])
    pool.close()


def test_close_ends_the_server_and_a_later_call_opens_it_again(tmp_path: Path) -> None:
    counter = tmp_path / "starts"
    pool = SessionPool()
    tools = load_server_tools("demo", config(counter), pool=pool)
    assert add(tools, 1, 1) == "2"
    [pid] = starts(counter)
    pool.close()
    assert wait_dead(pid)
    assert add(tools, 2, 2) == "4"
    assert len(starts(counter)) == 2
    pool.close()


def test_agent_close_ends_its_mcp_servers(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ahora import Agent
    from ahora.testing import ScriptedChatModel, tool_call

    counter = configured(tmp_path, isolated_env, monkeypatch)
    model = ScriptedChatModel(
        replies=[tool_call("add", {"a": 1, "b": 2}), tool_call("add", {"a": 3, "b": 4}), "Done."]
    )
    agent = Agent(model, tools=["add"])
    assert agent.ask("add twice").text == "Done."
    [pid] = starts(counter)
    agent.close()
    assert wait_dead(pid)


def test_the_cli_starts_each_server_once_per_question(tmp_path: Path, isolated_env: Path) -> None:
    counter = tmp_path / "starts"
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text(
        "[mcp_servers.demo]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = {json.dumps([str(SERVER)])}\n"
        f"env = {{ MCP_STARTS_FILE = {json.dumps(str(counter))} }}\n"
    )
    exe = shutil.which("ahora", path=str(Path(sys.executable).parent))
    assert exe is not None
    with OpenAIServer(rule=tool_then_answer("add", {"a": 20, "b": 22}, answer="42.")) as srv:
        env = {
            **os.environ,
            "AHORA_MODEL": "openai:test-model",
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": srv.base_url,
        }
        done = subprocess.run(
            [exe, "ask", "--tools", "add", "what is 20+22?"],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
            env=env,
        )
    assert done.returncode == 0, done.stderr
    assert "42" in done.stdout
    pids = starts(counter)
    assert len(pids) == 1, pids
    assert wait_dead(pids[0])  # and it ended with the program


def test_a_reconfigured_server_ends_the_old_session(tmp_path: Path) -> None:
    pool = SessionPool()
    old, new = tmp_path / "old", tmp_path / "new"
    assert add(load_server_tools("demo", config(old), pool=pool), 1, 1) == "2"
    assert add(load_server_tools("demo", config(new), pool=pool), 2, 2) == "4"
    assert wait_dead(starts(old)[0]) and len(starts(new)) == 1
    pool.close()


def test_agent_close_ends_the_mcp_servers_of_the_agents_it_calls(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sub-agent's MCP server was left running until exit: ``close`` reaches it now."""
    from langchain_core.messages import ToolMessage

    from ahora import Agent
    from ahora.testing import ScriptedChatModel, tool_call

    counter = configured(tmp_path, isolated_env, monkeypatch)

    def rule(messages: list[Any], tools: list[Any]) -> Any:
        names = {t["function"]["name"] if "function" in t else t.get("name") for t in tools}
        if isinstance(messages[-1], ToolMessage):
            return "Done."
        if "adder" in names:
            return tool_call("adder", {"task": "1+2"})
        return tool_call("add", {"a": 1, "b": 2})

    model = ScriptedChatModel(replies=[rule] * 6)
    adder = Agent(model, tools=["add"]).as_tool("adder", "Adds with the MCP server.")
    boss = Agent(model, tools=[adder])
    assert boss.ask("add").text == "Done."
    [pid] = starts(counter)
    assert alive(pid)
    boss.close()
    assert wait_dead(pid)
