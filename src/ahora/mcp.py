"""Tools from Model Context Protocol servers (``pip install 'ahora[mcp]'``).

Servers are declared in the config file, one table each, shaped like the connection
dicts of ``langchain-mcp-adapters``::

    [mcp_servers.files]                 # a local server over stdio
    command = "npx"
    args = ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"]

    [mcp_servers.search]                # a remote one over streamable HTTP
    url = "http://localhost:8000/mcp"
    headers = { Authorization = "Bearer ..." }

``transport`` may be left out: ``"stdio"`` when there is a ``command``,
``"streamable_http"`` when there is a ``url``. The registry
(:mod:`ahora.tools.registry`) loads them with the rest, so ``available_tools`` and
``ahora tools`` show them with origin ``mcp:<name>``.

The adapters' tools are async only (``StructuredTool`` with a coroutine and no
function: a sync ``invoke`` raises ``NotImplementedError``) and open a new session for
every call. :func:`load_server_tools` gives each one a sync function that runs the
coroutine to completion, so ``Agent.ask`` (sync) can call them as well as
``Agent.aask``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ahora.errors import InvalidSettings

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["LOAD_TIMEOUT", "connection", "load_server_tools", "relay_stderr", "run_sync"]

#: Seconds a server gets to start and list its tools.
LOAD_TIMEOUT = 30.0

_T = TypeVar("_T")

_TRANSPORTS = {"stdio", "streamable_http", "streamable-http", "http", "sse", "websocket"}


def connection(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """A config table as an adapters connection dict, with ``transport`` filled in."""
    if not isinstance(config, Mapping):
        raise InvalidSettings(f"mcp_servers.{name} must be a table, not {type(config).__name__}")
    conn = dict(config)
    if "transport" not in conn:
        if "command" in conn:
            conn["transport"] = "stdio"
        elif "url" in conn:
            conn["transport"] = "streamable_http"
        else:
            raise InvalidSettings(
                f"mcp_servers.{name} needs either command (a local stdio server) "
                "or url (a streamable HTTP server)"
            )
    if conn["transport"] not in _TRANSPORTS:
        raise InvalidSettings(
            f"mcp_servers.{name}: unknown transport {conn['transport']!r} "
            f"(use one of {', '.join(sorted(_TRANSPORTS))})"
        )
    if conn["transport"] == "stdio":
        conn.setdefault("args", [])
        if not isinstance(conn["args"], list) or not all(isinstance(a, str) for a in conn["args"]):
            raise InvalidSettings(f"mcp_servers.{name}.args must be a list of strings")
    return conn


def run_sync(coro: Awaitable[_T]) -> _T:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    With no loop in this thread it runs here; inside one (Jupyter, an async server)
    it runs on a fresh loop in a worker thread, since blocking the caller's loop on
    itself would deadlock.
    """

    async def main() -> _T:
        return await coro

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ahora-mcp") as pool:
        return pool.submit(asyncio.run, main()).result()


def load_server_tools(
    name: str, config: Mapping[str, Any], *, timeout: float = LOAD_TIMEOUT
) -> list[BaseTool]:
    """Start (or reach) one MCP server, list its tools, and make them callable sync too."""
    from langchain_mcp_adapters.client import MultiServerMCPClient

    conn = connection(name, config)
    if conn["transport"] == "stdio":
        conn = _relayed(name, conn)
    client = MultiServerMCPClient({name: conn})  # type: ignore[dict-item]

    async def listed() -> list[BaseTool]:
        return await asyncio.wait_for(client.get_tools(server_name=name), timeout)

    try:
        tools = run_sync(listed())
    except TimeoutError as exc:
        raise RuntimeError(f"no answer within {timeout:g} seconds") from exc
    except BaseExceptionGroup as group:  # anyio task groups wrap the real cause
        raise _innermost(group) from group
    return [_with_sync(t) for t in tools]


def _relayed(name: str, conn: dict[str, Any]) -> dict[str, Any]:
    """A stdio connection that starts the server under ``relay_stderr``.

    The MCP SDK hands a stdio server the terminal's own stderr, so whatever the server
    logs (a tool's error text, a page it fetched) would reach the terminal raw,
    escape sequences and all. The relay is the same Python and the same ahora, an
    isolated helper (:mod:`ahora.subprocesses`) in a neutral folder: a ``signal.py``
    in the working folder never runs in it. The server itself still starts in the
    folder the user configured (``cwd``, else the current one), with the environment
    the SDK gives it (a few plain variables plus the table's ``env``).
    """
    from ahora.subprocesses import helper

    server_cwd = str(Path(conn.get("cwd") or os.getcwd()).resolve())
    h = helper("ahora.mcp:_relay", server_cwd, name, str(conn["command"]), *conn["args"])
    return {**conn, "command": h.argv[0], "args": h.argv[1:], "cwd": h.cwd}


def _relay(cwd: str, name: str, *argv: str) -> int:
    """The relay helper's entry: ``relay_stderr`` with the server in ``cwd``."""
    return relay_stderr(name, list(argv), cwd=cwd)


def relay_stderr(name: str, argv: list[str], *, cwd: str | None = None) -> int:
    """Run ``argv`` (an MCP server, in ``cwd``) with stdin and stdout passed through, and
    its stderr copied to ours a line at a time, cleaned (``ahora.safe_text``) and marked
    with the server's name. Returns the server's exit code."""
    from ahora.safe_text import clean

    try:
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE, cwd=cwd)
    except OSError as exc:
        sys.stderr.write(clean(f"[mcp:{name}] cannot start {argv[0]}: {exc}", one_line=True))
        sys.stderr.write("\n")
        return 127
    assert proc.stderr is not None
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    for raw in proc.stderr:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        sys.stderr.write(clean(f"[mcp:{name}] {line}", one_line=True) + "\n")
        sys.stderr.flush()
    return proc.wait()


def _innermost(group: BaseExceptionGroup[Any]) -> Exception:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def _with_sync(tool: BaseTool) -> BaseTool:
    """The adapters' async-only tool, plus a sync function that runs its coroutine."""
    from langchain_core.tools import StructuredTool

    if not isinstance(tool, StructuredTool) or tool.func is not None or tool.coroutine is None:
        return tool
    coroutine = tool.coroutine

    # functools.wraps copies the coroutine's signature and annotations (an injected
    # ``runtime`` plus the arguments as keywords), so LangChain injects the same
    # things into both.
    @functools.wraps(coroutine)
    def call(*args: Any, **kwargs: Any) -> Any:
        return run_sync(coroutine(*args, **kwargs))

    return tool.model_copy(update={"func": call})
