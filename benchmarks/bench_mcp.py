"""Per-call time of an ahora MCP tool beside a call on one open adapters session.

    python benchmarks/bench_mcp.py [--calls 50] [--reps 5]

The same server (tests/fixtures/mcp_server.py over stdio) serves both:

1. **adapters, open session**: ``langchain-mcp-adapters``' ``load_mcp_tools(session)``
   inside one ``create_session``, the tool's ``ainvoke`` awaited in a loop: the floor
   (one JSON-RPC round trip plus the adapters' conversion).
2. **ahora, sync**: ``load_server_tools`` (the registry's path: the relayed server,
   the session pool), the tool's sync ``invoke`` (what ``Agent.ask`` does).
3. **ahora, async**: the same tool's ``ainvoke`` from a caller's loop (``Agent.aask``).

Each figure is the median over ``--reps`` runs of the mean per-call time of ``--calls``
calls, after one warm-up call. Goal (issue 17): ahora within 2x of the open session.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SERVER = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mcp_server.py"
ARGS = {"a": 20, "b": 22}


def _per_call(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.2f} ms"


async def _adapters(calls: int, reps: int) -> list[float]:
    from langchain_mcp_adapters.sessions import create_session
    from langchain_mcp_adapters.tools import load_mcp_tools

    conn: Any = {"transport": "stdio", "command": sys.executable, "args": [str(SERVER)]}
    out = []
    async with create_session(conn) as session:
        await session.initialize()
        tools = await load_mcp_tools(session)
        add = next(t for t in tools if t.name == "add")
        await add.ainvoke(ARGS)
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(calls):
                await add.ainvoke(ARGS)
            out.append((time.perf_counter() - start) / calls)
    return out


def _ahora(calls: int, reps: int) -> tuple[list[float], list[float]]:
    from ahora.mcp import SessionPool, load_server_tools

    pool = SessionPool()
    tools = load_server_tools(
        "bench", {"command": sys.executable, "args": [str(SERVER)]}, pool=pool
    )
    add = next(t for t in tools if t.name == "add")
    add.invoke(ARGS)
    sync = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(calls):
            add.invoke(ARGS)
        sync.append((time.perf_counter() - start) / calls)

    async def in_loop() -> list[float]:
        out = []
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(calls):
                await add.ainvoke(ARGS)
            out.append((time.perf_counter() - start) / calls)
        return out

    asynchronous = asyncio.run(in_loop())
    starts = pool.starts("bench")
    pool.close()
    print(f"ahora started the server {starts} time(s) for {1 + 2 * reps * calls} calls")
    return sync, asynchronous


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--reps", type=int, default=5)
    opts = parser.parse_args()
    floor = asyncio.run(_adapters(opts.calls, opts.reps))
    sync, asynchronous = _ahora(opts.calls, opts.reps)
    base = statistics.median(floor)
    print(f"adapters, one open session  {_per_call(floor)} per call")
    ratio = statistics.median(sync) / base
    print(f"ahora, sync invoke          {_per_call(sync)} per call  ({ratio:.2f}x)")
    print(
        f"ahora, async ainvoke        {_per_call(asynchronous)} per call"
        f"  ({statistics.median(asynchronous) / base:.2f}x)   goal: <= 2x"
    )


if __name__ == "__main__":
    main()
