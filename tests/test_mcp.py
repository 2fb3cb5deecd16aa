"""MCP servers as tool sources: config tables, the registry, and an agent calling an MCP
tool from sync and async code (tests/fixtures/mcp_server.py, over stdio and HTTP)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ahora import Agent
from ahora.errors import InvalidSettings
from ahora.mcp import _relayed, close_sessions, connection, load_server_tools
from ahora.settings import get_settings
from ahora.testing import ScriptedChatModel, tool_call
from ahora.tools.registry import ToolLoadWarning, available_tools, describe_tools, tool_problems

SERVER = Path(__file__).parent / "fixtures" / "mcp_server.py"


def write_config(home: Path, servers: dict[str, dict[str, object]]) -> None:
    lines = []
    for name, table in servers.items():
        lines.append(f"[mcp_servers.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def _sessions_closed() -> Iterator[None]:
    """Sessions stay open for the process: end them with the test (and its servers)."""
    yield
    close_sessions()


@pytest.fixture
def stdio_server(isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # away from the repository's ./tools
    write_config(isolated_env, {"demo": {"command": sys.executable, "args": [str(SERVER)]}})


def test_connection_fills_in_the_transport() -> None:
    assert connection("a", {"command": "srv"}) == {
        "command": "srv",
        "args": [],
        "transport": "stdio",
    }
    assert connection("b", {"url": "http://127.0.0.1:1/mcp"})["transport"] == "streamable_http"
    with pytest.raises(InvalidSettings, match=r"mcp_servers.c needs either command .* or url"):
        connection("c", {"args": []})
    with pytest.raises(InvalidSettings, match="unknown transport 'pigeon'"):
        connection("d", {"url": "x", "transport": "pigeon"})
    with pytest.raises(InvalidSettings, match="args must be a list of strings"):
        connection("e", {"command": "srv", "args": "--flag"})


def test_registry_lists_mcp_tools(stdio_server: None) -> None:
    infos = {i.name: i for i in describe_tools(settings=get_settings())}
    assert infos["add"].origin == infos["shout"].origin == "mcp:demo"
    assert infos["add"].description == "Add two whole numbers."
    assert "clock" in infos
    assert tool_problems(settings=get_settings()) == []


def test_agent_calls_an_mcp_tool_from_sync_ask(stdio_server: None) -> None:
    model = ScriptedChatModel(replies=[tool_call("add", {"a": 2, "b": 40}), "It is 42."])
    agent = Agent(model, tools=["add", "calculator"])
    answer = agent.ask("What is 2 + 40?")
    assert answer.text == "It is 42."
    assert answer.tool_calls == [{"name": "add", "args": {"a": 2, "b": 40}}]
    assert "42" in str(model.requests[1][-1].content)


async def test_agent_calls_an_mcp_tool_from_async_ask(stdio_server: None) -> None:
    model = ScriptedChatModel(
        replies=[
            tool_call("shout", {"text": "ahora"}),
            tool_call("refuse", {"reason": "no way"}),
            "ok",
        ]
    )
    agent = Agent(model, tools=["shout", "refuse"])
    answer = await agent.aask("Shout ahora, then try refuse.")
    assert answer.text == "ok"
    assert "AHORA!" in str(model.requests[1][-1].content)
    refused = model.requests[2][-1]
    assert "no way" in str(refused.content)  # the MCP error reached the model as a message


def test_a_broken_server_is_a_problem_and_the_rest_load(
    isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(
        isolated_env,
        {
            "demo": {"command": sys.executable, "args": [str(SERVER)]},
            "ghost": {"command": str(tmp_path / "no-such-server")},
            "odd": {"args": ["x"]},
        },
    )
    with pytest.warns(ToolLoadWarning) as caught:
        tools = available_tools(settings=get_settings())
    assert {"add", "shout", "refuse", "clock"} <= set(tools)
    problems = sorted(str(w.message) for w in caught)
    assert len(problems) == 2, problems
    assert problems[0].startswith("MCP server 'ghost' failed to load:")
    assert problems[1].startswith("MCP server 'odd' failed to load: InvalidSettings")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the MCP HTTP server did not start")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_streamable_http_server(http_server: str) -> None:
    tools = {t.name: t for t in load_server_tools("remote", {"url": http_server})}
    assert set(tools) == {"add", "shout", "refuse"}
    message = tools["add"].invoke(
        {"type": "tool_call", "id": "c1", "name": "add", "args": {"a": 20, "b": 22}}
    )
    assert message.content[0]["text"] == "42"
    assert message.artifact == {"structured_content": {"result": 42}}


def test_a_stdio_servers_stderr_reaches_the_terminal_cleaned(tmp_path: Path) -> None:
    """The SDK gives a stdio server the terminal's stderr: what it logs (a tool's error,
    a fetched page) is relayed a line at a time, cleaned and marked with its name,
    while stdin and stdout (the protocol) pass through untouched."""
    noisy = tmp_path / "noisy_server.py"
    noisy.write_text(
        "import sys\n"
        "sys.stderr.write('starting \\x1b]52;c;cHduZWQ=\\x07 \\x1b[2J\\u202eevil\\n')\n"
        "print(sys.stdin.read().upper())\n"
    )
    conn = _relayed("noisy", connection("noisy", {"command": sys.executable, "args": [str(noisy)]}))
    done = subprocess.run(
        [conn["command"], *conn["args"]], input="ping", capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout == "PING\n"
    assert "[mcp:noisy] starting ␛]52;c;cHduZWQ=␇ ␛[2J<U+202E>evil" in done.stderr
    assert not any(c in done.stderr for c in "\x1b\x07\u202e")


def test_stdio_servers_are_started_under_the_relay() -> None:
    conn = _relayed("demo", connection("demo", {"command": "my-server", "args": ["--x"]}))
    assert conn["command"] == sys.executable
    assert conn["args"][0] == "-I" and "ahora.mcp:_relay" in conn["args"]
    assert conn["args"][-3:] == ["demo", "my-server", "--x"]
