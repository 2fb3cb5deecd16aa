"""Per-step overhead of ahora's loop vs a bare ``create_agent``, in instructions.

    PYTHONPATH=src python benchmarks/bench_loop_instructions.py [--steps 30] [--runs 6]

The same scenario as ``bench_loop.py`` (zero-latency scripted model, a no-op tool,
``--steps`` tool calls then an answer), counted in user-space instructions by
valgrind's cachegrind instead of timed: other processes on the machine do not change
the count, so two commits can be compared on a busy machine, and a change of 1% shows.
It runs five processes under valgrind (each builds and warms every graph, then runs
nothing or one graph ``--runs`` times) and subtracts. Beside bare and ahora it counts
``bench_loop.py``'s two floors: LangChain's graph with one no-op middleware, and with
a thread hand-off per tool call too (what a sync tool's time limit needs), so the
figure splits into what LangChain charges any middleware and what ahora's parts add.
About four minutes; needs ``valgrind`` on the PATH.

Instructions are not time: the kernel's share (thread hand-offs of the tool timeout)
and cache misses are not in the count, and ahora's CPU-time ratio has measured about
0.1 above its instruction ratio. Use it to compare changes, and ``bench_loop.py`` for
the figure itself.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

SIDES = {
    "bare": "langchain.agents.create_agent (bare)",
    "noop": "  + one no-op middleware (LangChain's floor)",
    "handoff": "  + a thread per tool call (a sync timeout)",
    "ours": "ahora.create_agent",
}


def run_side(side: str, steps: int, runs: int) -> None:
    """In the process valgrind counts: build and warm every graph, run ``side``."""
    sys.path.insert(0, str(HERE))
    from bench_loop import HandOffMiddleware, NoopMiddleware, noop, rewind, rule_model
    from langchain.agents import create_agent as lc_create_agent
    from langchain_core.messages import HumanMessage

    import ahora

    question: Any = {"messages": [HumanMessage("go")]}
    makers: dict[str, Any] = {
        "bare": lambda m: lc_create_agent(m, [noop]),
        "noop": lambda m: lc_create_agent(m, [noop], middleware=[NoopMiddleware()]),
        "handoff": lambda m: lc_create_agent(m, [noop], middleware=[HandOffMiddleware()]),
        "ours": lambda m: ahora.create_agent(m, [noop], max_steps=steps + 6),
    }
    models = {name: rule_model(steps) for name in makers}
    graphs = {name: make(models[name]) for name, make in makers.items()}

    def run(name: str) -> None:
        rewind(models[name])
        assert graphs[name].invoke(question)["messages"][-1].content == "finished"

    for name in graphs:
        run(name)
    for _ in range(runs if side != "none" else 0):
        run(side)


def count(side: str, steps: int, runs: int) -> int:
    """Instructions of one process running ``side``."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--side",
        side,
        f"--steps={steps}",
        f"--runs={runs}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ, check=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=30, help="tool-call steps per run")
    parser.add_argument("--runs", type=int, default=6, help="runs counted per side")
    parser.add_argument("--side", choices=[*SIDES, "none"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        run_side(args.side, args.steps, args.runs)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    base = count("none", args.steps, args.runs)
    calls = (args.steps + 1) * args.runs
    per_step = {side: (count(side, args.steps, args.runs) - base) / calls for side in SIDES}
    bare = per_step["bare"]
    print(f"per-step overhead in instructions, {args.steps + 1} model calls per run")
    for side, label in SIDES.items():
        print(f"  {label:46s} {per_step[side] / 1000:7.0f} k/step  {per_step[side] / bare:6.3f}")
    ours, floor = per_step["ours"], per_step["handoff"]
    print(f"  ahora over LangChain's floor (the line above it)  {(ours - floor) / bare:+.3f}")


if __name__ == "__main__":
    main()
