"""Thread storage: bytes on disk per byte of message text, and the time to open a thread.

    python benchmarks/bench_threads.py

1. One 60-step turn whose tool returns 10 KB each step, saved by LangGraph's stock
   ``SqliteSaver`` and by ahora's ``CompactSqliteSaver`` (``ahora.threads``): file size
   (database + WAL) after the turn, divided by the bytes of the messages' text.
   Goal: at most 3x for ahora.
2. A 100-turn thread (each turn: a tool call with 2 KB of output and an answer):
   time to open it in a new process-like state (new connection, ``get_state``).
   Goal: under 100 ms.
3. ``aask`` turn overhead: the same turns (a tool call and an answer, zero-latency
   scripted model) through ``Agent.aask`` on the SQLite store (its async methods run
   the sync ones in a worker thread) and on LangGraph's ``InMemorySaver``, each at
   ``Agent``'s durability for it and both at the same one; and ``ask`` on SQLite.
   Goal: SQLite at most 1.2x the in-memory time.
4. Bytes on disk per turn: a 200-turn thread of plain questions and answers, the file's
   live pages (page count minus free pages, times the page size) over the text.
   Goal: at most 3x.
5. Listing 1,000 threads (``ThreadIndex.list``, a fresh connection). Goal: < 100 ms.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.tools import tool
from langgraph.checkpoint.sqlite import SqliteSaver

from ahora.agent import Agent
from ahora.testing import ScriptedChatModel, tool_call
from ahora.threads import ThreadIndex, close_checkpointer, open_sqlite_saver


@tool
def fetch(n: int) -> str:
    """Fetch a block of text.

    Args:
        n: Which block.
    """
    return f"block {n}: " + ("lorem ipsum " * 900)[:10_000]


@tool
def small(n: int) -> str:
    """Fetch a small block of text.

    Args:
        n: Which block.
    """
    return f"block {n}: " + ("lorem ipsum " * 200)[:2_000]


def _disk(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _text(messages: list[Any]) -> int:
    return sum(
        len(str(m.content).encode()) + len(str(getattr(m, "tool_calls", "")).encode())
        for m in messages
    )


def storage(steps: int = 60) -> None:
    print(f"== one turn of {steps} steps, 10 KB tool outputs ==")
    for label in ("stock SqliteSaver", "ahora CompactSqliteSaver"):
        folder = Path(tempfile.mkdtemp())
        path = folder / "threads.sqlite"
        if label.startswith("stock"):
            saver: Any = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
        else:
            saver = open_sqlite_saver(path)
        replies: list[Any] = [tool_call("fetch", {"n": i}) for i in range(steps - 1)] + ["done"]
        agent = Agent(
            ScriptedChatModel(replies=replies), [fetch], checkpointer=saver, max_steps=steps + 1
        )
        started = time.perf_counter()
        answer = agent.ask("go", thread="bench")
        seconds = time.perf_counter() - started
        if hasattr(saver, "compact"):
            saver.compact()
        text = _text(answer.messages)
        disk = _disk(path)
        print(
            f"{label:<26} {disk / 1e6:7.2f} MB on disk, text {text / 1e6:.2f} MB, "
            f"ratio {disk / text:5.1f}x, run {seconds:.2f} s"
        )


def open_time(turns: int = 100, repeats: int = 7) -> None:
    print(f"== opening a {turns}-turn thread ==")
    folder = Path(tempfile.mkdtemp())
    path = folder / "threads.sqlite"
    saver = open_sqlite_saver(path)
    replies: list[Any] = []
    for i in range(turns):
        replies += [tool_call("small", {"n": i}), f"Answer {i}: " + "words " * 40]
    agent = Agent(ScriptedChatModel(replies=replies), [small], checkpointer=saver)
    for i in range(turns):
        agent.ask(f"Question {i}?", thread="long")
    saver.compact()
    messages = len(
        agent.graph.get_state({"configurable": {"thread_id": "long"}}).values["messages"]
    )
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fresh = open_sqlite_saver(path)
        graph = Agent(ScriptedChatModel(replies=[]), [small], checkpointer=fresh).graph
        state = graph.get_state({"configurable": {"thread_id": "long"}})
        assert len(state.values["messages"]) == messages
        times.append(time.perf_counter() - started)
        fresh.conn.close()
    get_only = []
    fresh = open_sqlite_saver(path)
    for _ in range(repeats):
        started = time.perf_counter()
        fresh.get_tuple({"configurable": {"thread_id": "long"}})
        get_only.append(time.perf_counter() - started)
    print(
        f"{messages} messages, {_disk(path) / 1e6:.2f} MB: open + build agent + get_state "
        f"median {statistics.median(times) * 1000:.1f} ms; load checkpoint alone "
        f"median {statistics.median(get_only) * 1000:.1f} ms"
    )


def _turn_replies(turns: int) -> list[Any]:
    replies: list[Any] = []
    for i in range(turns):
        replies += [tool_call("small", {"n": i}), f"Answer {i}: " + "words " * 40]
    return replies


def aask_overhead(turns: int = 40, rounds: int = 5) -> None:
    """``Agent`` saves after every step on disk (``durability="sync"``: a killed process
    loses at most the step in flight) but only at the end of a run in memory ("exit"),
    so the store is also timed at each of the two, rounds interleaved (a shared machine)."""
    print(f"== aask: {turns} turns (a tool call and an answer each), median of {rounds} ==")
    from langgraph.checkpoint.memory import InMemorySaver

    def per_turn(store: str, durability: str | None, sync: bool = False) -> float:
        folder = Path(tempfile.mkdtemp())
        saver: Any = (
            InMemorySaver() if store == "memory" else open_sqlite_saver(folder / "t.sqlite")
        )
        agent = Agent(ScriptedChatModel(replies=_turn_replies(turns)), [small], checkpointer=saver)
        if durability is not None:
            agent._durability = durability

        async def run(agent: Agent = agent) -> None:
            for i in range(turns):
                await agent.aask(f"Question {i}?", thread="t")

        started = time.perf_counter()
        if sync:
            for i in range(turns):
                agent.ask(f"Question {i}?", thread="t")
        else:
            asyncio.run(run())
        seconds = (time.perf_counter() - started) / turns
        if store != "memory":
            close_checkpointer(saver)
        return seconds

    cases = {
        "InMemorySaver, Agent's default (exit)": ("memory", None, False),
        "SQLite store, Agent's default (sync)": ("sqlite", None, False),
        "InMemorySaver at sync": ("memory", "sync", False),
        "SQLite store at exit": ("sqlite", "exit", False),
        "SQLite store, sync ask": ("sqlite", None, True),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (store, durability, sync) in cases.items():
            times[name].append(per_turn(store, durability, sync))
    ms = {name: statistics.median(t) * 1000 for name, t in times.items()}
    for name, value in ms.items():
        print(f"{name:<40} {value:6.2f} ms/turn")
    names = list(ms)
    print(
        f"SQLite / memory: {ms[names[1]] / ms[names[0]]:.2f}x at each one's default, "
        f"{ms[names[1]] / ms[names[2]]:.2f}x both at sync, "
        f"{ms[names[3]] / ms[names[0]]:.2f}x both at exit (goal <= 1.2x)"
    )


def aiosqlite_alternative(turns: int = 40, rounds: int = 5) -> None:
    """The other way to an async SQLite store: LangGraph's ``AsyncSqliteSaver`` (needs
    ``aiosqlite``, not one of ahora's dependencies; skipped without it)."""
    try:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    except ImportError:
        print("== AsyncSqliteSaver: skipped (pip install aiosqlite) ==")
        return
    print(f"== aask on AsyncSqliteSaver vs ahora's store: {turns} turns, median of {rounds} ==")

    async def per_turn(kind: str) -> float:
        path = Path(tempfile.mkdtemp()) / "t.sqlite"
        async with AsyncSqliteSaver.from_conn_string(str(path)) as stock:
            saver: Any = stock if kind == "aio" else open_sqlite_saver(path.with_suffix(".b"))
            agent = Agent(
                ScriptedChatModel(replies=_turn_replies(turns)), [small], checkpointer=saver
            )
            started = time.perf_counter()
            for i in range(turns):
                await agent.aask(f"Question {i}?", thread="t")
            seconds = (time.perf_counter() - started) / turns
            if kind != "aio":
                close_checkpointer(saver)
        return seconds

    times: dict[str, list[float]] = {"aio": [], "ahora": []}
    for _ in range(rounds):
        for kind, found in times.items():
            found.append(asyncio.run(per_turn(kind)))
    aio, ours = (statistics.median(times[k]) * 1000 for k in ("aio", "ahora"))
    print(f"AsyncSqliteSaver {aio:.2f} ms/turn; ahora's store (to_thread) {ours:.2f} ms/turn")


def bytes_per_turn(turns: int = 200) -> None:
    print(f"== bytes on disk per turn: {turns} turns of plain text ==")
    folder = Path(tempfile.mkdtemp())
    path = folder / "threads.sqlite"
    saver = open_sqlite_saver(path)
    replies = [f"Answer {i}: " + "words " * 60 for i in range(turns)]
    agent = Agent(ScriptedChatModel(replies=replies), [], checkpointer=saver)
    for i in range(turns):
        answer = agent.ask(f"Question {i}: " + "what about this " * 5, thread="t")
        saver.compact()  # what the CLI and Agent(threads=True) do after a turn
    close_checkpointer(saver)
    conn = sqlite3.connect(path)
    pages, free, size = (
        conn.execute(f"PRAGMA {p}").fetchone()[0]
        for p in ("page_count", "freelist_count", "page_size")
    )
    conn.close()
    text = _text(answer.messages)
    live = (pages - free) * size
    print(
        f"text {text / 1e3:.0f} KB, live pages {live / 1e3:.0f} KB ({live / text:.2f}x, goal "
        f"<= 3x), {live / turns / 1e3:.1f} KB/turn; file {path.stat().st_size / 1e3:.0f} KB"
    )


def list_time(threads: int = 1000, repeats: int = 7) -> None:
    print(f"== listing {threads} threads ==")
    folder = Path(tempfile.mkdtemp())
    path = folder / "threads.sqlite"
    with ThreadIndex(path) as index:
        for i in range(threads):
            index.finish_turn(f"thread-{i:05d}", question=f"Question {i}?", answer="An answer.")
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with ThreadIndex(path) as index:
            found = index.list()
        times.append(time.perf_counter() - started)
        assert len(found) == threads
    print(f"open + list: median {statistics.median(times) * 1000:.1f} ms (goal < 100 ms)")


if __name__ == "__main__":
    storage()
    open_time()
    aask_overhead()
    aiosqlite_alternative()
    bytes_per_turn()
    list_time()
