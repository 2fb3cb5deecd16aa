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

Sessions stay open. The adapters' tools open a new session (a new server process,
for stdio) on every call; here every server's session lives in a :class:`SessionPool`:
opened on first use (listing the tools is the first use, so a CLI question starts
each server once), reused by every call, reopened when the server died, and closed by
``SessionPool.close`` (``Agent.close`` calls :func:`close_sessions`) or at exit. MCP
sessions are anyio tasks bound to one event loop, and the agent's callers come from
many (``Agent.ask`` in a thread, ``Agent.aask`` on the caller's loop, Jupyter's): so
the pool runs its own loop in a daemon thread, and a call from any loop or thread is
handed to it. The adapters still do the rest (schemas, result conversion, MCP errors
as tool errors): their tool's call goes through a tool interceptor that sends it to
the pool's session instead of opening one.

The adapters' tools are async only (``StructuredTool`` with a coroutine and no
function: a sync ``invoke`` raises ``NotImplementedError``). :func:`load_server_tools`
gives each one a sync function that runs the coroutine to completion, so
``Agent.ask`` (sync) can call them as well as ``Agent.aask``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ahora.errors import InvalidSettings

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "LOAD_TIMEOUT",
    "SessionPool",
    "close_sessions",
    "connection",
    "load_server_tools",
    "relay_stderr",
    "run_sync",
]

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
    name: str,
    config: Mapping[str, Any],
    *,
    timeout: float = LOAD_TIMEOUT,
    pool: SessionPool | None = None,
) -> list[BaseTool]:
    """Open (or reach) one MCP server's session in ``pool`` (the process's default
    pool when None), list its tools, and make them callable sync too; each call of
    theirs goes through that open session."""
    from langchain_mcp_adapters.tools import load_mcp_tools

    conn = connection(name, config)
    if conn["transport"] == "stdio":
        conn = _relayed(name, conn)
    chosen = pool if pool is not None else default_pool()

    async def listed(session: Any) -> list[BaseTool]:
        return await load_mcp_tools(
            session,
            connection=conn,  # type: ignore[arg-type]
            server_name=name,
            tool_interceptors=[chosen.interceptor],
        )

    try:
        tools = chosen.run(name, conn, listed, timeout=timeout)
    except TimeoutError as exc:
        raise RuntimeError(f"no answer within {timeout:g} seconds") from exc
    except BaseExceptionGroup as group:  # anyio task groups wrap the real cause
        raise _innermost(group) from group
    out = []
    for t in tools:
        t = _with_sync(t, chosen)
        t.metadata = {**(t.metadata or {}), "ahora_mcp_pool": chosen}
        out.append(t)
    return out


class _Server:
    """One server's session, held open by a task on the pool's loop (anyio needs the
    task that entered the session to be the one that leaves it)."""

    def __init__(self, name: str, conn: dict[str, Any]) -> None:
        self.name = name
        self.conn = conn
        self.session: Any = None
        self.task: asyncio.Task[None] | None = None
        self.closing: asyncio.Event | None = None
        self.lock = asyncio.Lock()
        self.starts = 0

    async def current(self, timeout: float) -> Any:
        """The open session, opening it first when there is none (or it ended)."""
        async with self.lock:
            if self.session is None or self.task is None or self.task.done():
                await self._open(timeout)
            return self.session

    async def _open(self, timeout: float) -> None:
        await self.shut()
        ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.closing = asyncio.Event()
        self.starts += 1
        self.task = asyncio.create_task(self._hold(ready, self.closing))
        try:
            await asyncio.wait_for(asyncio.shield(ready), timeout)
        except BaseException:
            await self.shut()
            raise

    async def _hold(self, ready: asyncio.Future[Any], closing: asyncio.Event) -> None:
        from langchain_mcp_adapters.sessions import create_session

        try:
            async with create_session(self.conn) as session:  # type: ignore[arg-type]
                await session.initialize()
                self.session = session
                ready.set_result(session)
                await closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.session = None

    async def shut(self) -> None:
        """End the session (and the server process, for stdio)."""
        task, self.task, self.session = self.task, None, None
        if self.closing is not None:
            self.closing.set()
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(task, 10)
            except BaseException:  # a server that will not stop: cancel its task
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


class SessionPool:
    """Open MCP sessions, one per server, on one event loop that lives as long as the
    pool (in a daemon thread). Thread-safe; callable from any thread or loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: dict[str, _Server] = {}
        _pools.add(self)  # closed at exit

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="ahora-mcp-sessions", daemon=True
                ).start()
                self._loop = loop
            return self._loop

    def _server(self, name: str, conn: dict[str, Any]) -> _Server:
        stale = None
        with self._lock:
            server = self._servers.get(name)
            if server is None or server.conn != conn:
                stale = server  # reconfigured: the old session ends
                server = self._servers[name] = _Server(name, conn)
        if stale is not None:
            self.submit(stale.shut())
        return server

    def starts(self, name: str) -> int:
        """How many times this pool started (opened) server ``name``."""
        server = self._servers.get(name)
        return server.starts if server is not None else 0

    def submit(self, coro: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        return asyncio.run_coroutine_threadsafe(coro, self._running_loop())

    def run(
        self,
        name: str,
        conn: dict[str, Any],
        use: Callable[[Any], Awaitable[_T]],
        *,
        timeout: float = LOAD_TIMEOUT,
    ) -> _T:
        """``use(session)`` on server ``name``'s open session, from sync code."""
        server = self._server(name, conn)

        async def main() -> _T:
            return await use(await server.current(timeout))

        return self.submit(main()).result(timeout + 5)

    async def call(self, server_name: str, tool: str, args: dict[str, Any]) -> Any:
        """Call ``tool`` on the open session, from any loop; a server found gone before
        the request left (the send failed) is reopened and the call sent once more.
        One that died while answering is reopened on the next call, not retried."""
        import anyio

        server = self._servers.get(server_name)
        if server is None:
            raise RuntimeError(f"MCP server {server_name!r} was never opened in this pool")

        async def main() -> Any:
            for attempt in (1, 2):
                session = await server.current(LOAD_TIMEOUT)
                try:
                    return await session.call_tool(tool, args)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    await server.shut()
                    if attempt == 2:
                        raise
                except Exception as exc:
                    if _connection_lost(exc):  # died while answering: reopen next time
                        await server.shut()
                    raise
            raise AssertionError("unreachable")

        return await asyncio.wrap_future(self.submit(main()))

    async def interceptor(self, request: Any, handler: Any) -> Any:
        """The adapters' tool interceptor: the call goes to the open session."""
        return await self.call(request.server_name, request.name, request.args)

    def close(self) -> None:
        """End every session (stdio servers exit); the next call opens them again."""
        with self._lock:
            servers = list(self._servers.values())
            loop = self._loop
        if loop is None or loop.is_closed() or not servers:
            return

        async def shut_all() -> None:
            await asyncio.gather(*(s.shut() for s in servers), return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shut_all(), loop).result(30)


def _connection_lost(exc: BaseException) -> bool:
    from mcp.shared.exceptions import McpError
    from mcp.types import CONNECTION_CLOSED

    return isinstance(exc, McpError) and exc.error.code == CONNECTION_CLOSED


_default: SessionPool | None = None
_pools: weakref.WeakSet[SessionPool] = weakref.WeakSet()
_default_lock = threading.Lock()


def default_pool() -> SessionPool:
    """The process's pool: tools loaded by the registry share it (the registry loads
    each configuration once per process)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SessionPool()
        return _default


def close_sessions(tools: Iterable[Any] | None = None) -> None:
    """Close the pools behind these MCP tools (what ``Agent.close`` calls with its
    tools), or every pool when ``tools`` is None (at exit). A closed pool reopens a
    session when one of its tools is called again."""
    if tools is None:
        chosen = list(_pools)
    else:
        found = [getattr(t, "metadata", None) or {} for t in tools]
        chosen = [m["ahora_mcp_pool"] for m in found if "ahora_mcp_pool" in m]
    for pool in {id(p): p for p in chosen}.values():
        pool.close()


atexit.register(close_sessions)


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


async def _awaited(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _with_sync(tool: BaseTool, pool: SessionPool | None = None) -> BaseTool:
    """The adapters' async-only tool, plus a sync function that runs its coroutine
    (on the pool's loop when given: no event loop built per call)."""
    from langchain_core.tools import StructuredTool

    if not isinstance(tool, StructuredTool) or tool.func is not None or tool.coroutine is None:
        return tool
    coroutine = tool.coroutine

    # functools.wraps copies the coroutine's signature and annotations (an injected
    # ``runtime`` plus the arguments as keywords), so LangChain injects the same
    # things into both.
    @functools.wraps(coroutine)
    def call(*args: Any, **kwargs: Any) -> Any:
        if pool is not None:
            return pool.submit(_awaited(coroutine(*args, **kwargs))).result()
        return run_sync(coroutine(*args, **kwargs))

    return tool.model_copy(update={"func": call})
