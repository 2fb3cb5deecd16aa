"""Per-step overhead of ahora's loop vs a bare ``create_agent``, in instructions.

    PYTHONPATH=src python benchmarks/bench_loop_instructions.py [--steps 30] [--runs 6]

The same scenario as ``bench_loop.py`` (zero-latency scripted model, a no-op tool,
``--steps`` tool calls then an answer), counted in user-space instructions by
valgrind's cachegrind instead of timed: other processes on the machine do not change
the count, so two commits can be compared on a busy machine, and a change of 1% shows.
It runs three processes under valgrind (each builds and warms both graphs, then runs
nothing, the bare graph ``--runs`` times, or ahora's ``--runs`` times) and subtracts.
About two minutes; needs ``valgrind`` on the PATH.

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


def run_side(side: str, steps: int, runs: int) -> None:
    """In the process valgrind counts: build and warm both graphs, run ``side``."""
    sys.path.insert(0, str(HERE))
    from bench_loop import noop, rewind, rule_model
    from langchain.agents import create_agent as lc_create_agent
    from langchain_core.messages import HumanMessage

    import ahora

    question: Any = {"messages": [HumanMessage("go")]}
    models = [rule_model(steps) for _ in range(2)]
    graphs = {
        "bare": lc_create_agent(models[0], [noop]),
        "ours": ahora.create_agent(models[1], [noop], max_steps=steps + 6),
    }

    def run(name: str) -> None:
        model = models[0] if name == "bare" else models[1]
        rewind(model)
        assert graphs[name].invoke(question)["messages"][-1].content == "finished"

    run("bare")
    run("ours")
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
    parser.add_argument("--side", choices=["none", "bare", "ours"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        run_side(args.side, args.steps, args.runs)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    base = count("none", args.steps, args.runs)
    calls = (args.steps + 1) * args.runs
    bare = (count("bare", args.steps, args.runs) - base) / calls
    ours = (count("ours", args.steps, args.runs) - base) / calls
    print(f"per-step overhead in instructions, {args.steps + 1} model calls per run")
    print(f"  langchain.agents.create_agent (bare)  {bare / 1000:8.0f} k instructions/step")
    print(f"  ahora.create_agent                    {ours / 1000:8.0f} k instructions/step")
    print(f"  ratio ahora / bare                    {ours / bare:8.3f}")


if __name__ == "__main__":
    main()
