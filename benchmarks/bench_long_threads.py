"""Long threads: CPU and bytes written per turn as a saved thread grows.

    python benchmarks/bench_long_threads.py [--turns 10,100,300,1000] [--repeat 5]

For each thread length N a fresh thread is filled with N-1 turns (each: a question, a
tool call, a 500-character tool result, an answer), written in one go and checkpointed
out of the WAL; one more turn warms up (not measured); then ``--repeat`` more turns are
run and measured, each a model call, the tool, and a second model call with a
zero-latency scripted model:

* ahora on the CLI path: ``Session.ask`` (what ``ahora ask --thread`` and ``ahora chat``
  run) with its compact SQLite saver and thread index;
* the same with the model's window known (``profile={"max_input_tokens": 32_768}``), so
  the context-window middleware shortens every call of the long threads;
* bare LangGraph: ``langchain.agents.create_agent`` with LangGraph's stock
  ``SqliteSaver`` (default durability), same model and tool.

CPU is the process's CPU time per turn (median of the measured turns, all threads);
bytes written is what the process passed to ``write`` per turn (``wchar`` in
``/proc/self/io``; Linux only). Nothing but SQLite writes while a turn is measured:
under ``strace -y`` over 5 turns of a 300-turn thread, every byte went to the database
file and its WAL (the WAL's frames, then their copy into the file at checkpoint time).
Without the fill's checkpoint, the first measured turn copied the whole filled history
from the WAL into the file, which made bytes per turn look as if they grew with N.
The issue's goal: at 300 turns, ahora at most 1.2x bare LangGraph's CPU per turn; at
1,000 turns, bytes written per turn flat.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from ahora.settings import Settings
from ahora.testing import ScriptedChatModel

RESULT = ("lorem ipsum dolor sit amet " * 20)[:500]


@tool
def lookup(n: int) -> str:
    """Look something up.

    Args:
        n: What to look up.
    """
    return f"result {n}: {RESULT}"


def _reply(messages: list[BaseMessage], tools: Any) -> AIMessage:
    if isinstance(messages[-1], ToolMessage):
        return AIMessage("Here is the answer, drawn from the result above. " * 3)
    return AIMessage("", tool_calls=[{"name": "lookup", "args": {"n": 1}, "id": _call_id()}])


_calls = iter(range(10**9))


def _call_id() -> str:
    return f"call_{next(_calls)}"


def _model(window: int | None) -> ScriptedChatModel:
    replies: list[Any] = [_reply] * 100_000
    model = ScriptedChatModel(replies=replies, model_name="bench-model")
    if window is not None:
        model.profile = {"max_input_tokens": window}
    return model


def _history(turns: int) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for i in range(turns):
        call = f"past_{i}"
        out += [
            HumanMessage(f"Question {i}: what does lookup say about item {i}?", id=f"h{i}"),
            AIMessage(
                "", tool_calls=[{"name": "lookup", "args": {"n": i}, "id": call}], id=f"a{i}"
            ),
            ToolMessage(f"result {i}: {RESULT}", tool_call_id=call, name="lookup", id=f"t{i}"),
            AIMessage("Here is the answer, drawn from the result above. " * 3, id=f"b{i}"),
        ]
    return out


def _written() -> int:
    with open("/proc/self/io", encoding="ascii") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


def _measure(turn: Callable[[int], None], repeat: int) -> tuple[float, float]:
    """Median CPU ms per turn and mean bytes written per turn over ``repeat`` turns."""
    cpu: list[float] = []
    began = _written()
    for i in range(repeat):
        t = time.process_time()
        turn(i)
        cpu.append((time.process_time() - t) * 1000)
    return statistics.median(cpu), (_written() - began) / repeat


def ahora_cli(
    folder: Path, history: list[BaseMessage], repeat: int, window: int | None
) -> tuple[float, float]:
    from ahora.cli.session import Session

    settings = Settings.load({"AHORA_HOME": str(folder)})
    session = Session(settings, model=_model(window), tools=[lookup])
    session.open()
    config: Any = {"configurable": {"thread_id": session.thread_id}}
    session.agent.graph.update_state(config, {"messages": history}, as_node="model")
    session._saver.compact()  # the fill, out of the WAL

    def turn(i: int) -> None:
        for _ in session.ask(f"And what about item {i}?"):
            pass

    try:
        turn(-1)
        return _measure(turn, repeat)
    finally:
        session.close()


def bare_langgraph(folder: Path, history: list[BaseMessage], repeat: int) -> tuple[float, float]:
    import sqlite3

    from langchain.agents import create_agent
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(folder / "bare.sqlite", check_same_thread=False)
    saver = SqliteSaver(conn)
    graph = create_agent(_model(None), [lookup], checkpointer=saver)
    config: Any = {"configurable": {"thread_id": "bench"}}
    graph.update_state(config, {"messages": history}, as_node="model")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def turn(i: int) -> None:
        graph.invoke({"messages": [HumanMessage(f"And what about item {i}?")]}, config)

    try:
        turn(-1)
        return _measure(turn, repeat)
    finally:
        conn.close()


def _folders() -> Iterator[Path]:
    while True:
        yield Path(tempfile.mkdtemp(prefix="ahora-bench-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", default="10,100,300,1000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(x) for x in args.turns.split(",")]
    folders = _folders()
    heads = ("ahora CLI", "+32k window", "bare LangGraph")
    print(f"{'turn':>6}  " + "  ".join(f"{h:>16}" for h in heads) + f"  {'CPU ratio':>9}")
    print(f"{'':>6}  {'ms   KB written':>16}  {'ms   KB written':>16}  {'ms   KB written':>16}")
    for n in sizes:
        history = _history(n - 1)
        plain = ahora_cli(next(folders), history, args.repeat, None)
        windowed = ahora_cli(next(folders), history, args.repeat, 32_768)
        bare = bare_langgraph(next(folders), history, args.repeat)
        cells = [f"{cpu:6.1f} {written / 1024:9.1f}" for cpu, written in (plain, windowed, bare)]
        print(f"{n:>6}  {cells[0]:>16}  {cells[1]:>16}  {cells[2]:>16}  {plain[0] / bare[0]:8.2f}x")
    print(f"(pid {os.getpid()}; CPU is the median of {args.repeat} turns; KB written per turn)")


if __name__ == "__main__":
    main()
