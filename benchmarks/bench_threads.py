"""Thread storage: bytes on disk per byte of message text, and the time to open a thread.

    python benchmarks/bench_threads.py

1. One 60-step turn whose tool returns 10 KB each step, saved by LangGraph's stock
   ``SqliteSaver`` and by ahora's ``CompactSqliteSaver`` (``ahora.threads``): file size
   (database + WAL) after the turn, divided by the bytes of the messages' text.
   Goal: at most 3x for ahora.
2. A 100-turn thread (each turn: a tool call with 2 KB of output and an answer):
   time to open it in a new process-like state (new connection, ``get_state``).
   Goal: under 100 ms.
"""

from __future__ import annotations

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
from ahora.threads import open_sqlite_saver


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


if __name__ == "__main__":
    storage()
    open_time()
