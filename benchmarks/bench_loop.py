"""Per-step overhead of ahora's loop vs a bare LangChain ``create_agent``, and parallel tools.

    /work/venv/bin/python benchmarks/bench_loop.py [--steps 30] [--reps 7] [--profile]

1. Per-step overhead: the same zero-latency ``ScriptedChatModel`` (a rule reply: call
   a no-op tool ``--steps`` times, then answer) drives ``ahora.create_agent`` and a bare
   ``langchain.agents.create_agent``; the figure is time per model call, median of
   ``--reps`` runs, interleaved. Goal: ahora / bare <= 1.2. Both wall time
   (``perf_counter``) and this process's CPU time (``process_time``) are printed: on a
   shared machine other processes stretch wall time but not CPU time, so the CPU ratio
   is the one to trust under load (the load average is printed with it). Even so, on
   a shared two-core machine the ratio moves by 0.1 or more between runs (other
   processes slow the caches too): repeat it, and compare medians of several runs.
2. One turn whose single model reply calls three tools that each sleep 1 s.
   Goal: <= 1.3 s (they run concurrently).

``--profile`` prints the top of a cProfile of ahora's runs, to see where time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

from langchain.agents import create_agent as lc_create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

import ahora
from ahora.testing import ScriptedChatModel, tool_call, tool_calls

RATIO_GOAL = 1.2
PARALLEL_GOAL = 1.3


def noop(i: int) -> str:
    """Do nothing and say so.

    Args:
        i: The step number.
    """
    # Distinct results and arguments, so ahora's loop guard sees progress.
    return f"ok {i}"


def slow(label: str) -> str:
    """Sleep one second.

    Args:
        label: A name for this call.
    """
    time.sleep(1)
    return f"{label} done"


def rule_model(steps: int) -> ScriptedChatModel:
    """``steps`` tool calls, then an answer; works for any number of runs."""

    def reply(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        done = sum(isinstance(m, ToolMessage) for m in messages)
        return tool_call("noop", {"i": done}) if done < steps and tools else "finished"

    return ScriptedChatModel(replies=[reply] * (steps + 1))


def rewind(model: ScriptedChatModel) -> None:
    """Start the script over (its ``bind_tools`` copies share it), so one graph reruns."""
    model.script.position = 0
    model.script.requests.clear()


def time_runs(run: Callable[[], Any], reps: int, *, warm: bool = True) -> list[tuple[float, float]]:
    """``reps`` timings of ``run`` as (wall, CPU) seconds, after one warm-up run
    (imports, schema building, first-call caches) unless ``warm`` is false."""
    if warm:
        run()
    out = []
    for _ in range(reps):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        out.append((time.perf_counter() - wall, time.process_time() - cpu))
    return out


def ms_per_step(times: list[tuple[float, float]], calls: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds per model call."""
    wall = statistics.median(t[0] for t in times) / calls * 1000
    cpu = statistics.median(t[1] for t in times) / calls * 1000
    return wall, cpu


def per_step(steps: int, reps: int, profile: bool) -> None:
    calls = steps + 1
    question: Any = {"messages": [HumanMessage("go")]}

    models = [rule_model(steps) for _ in range(3)]
    bare = lc_create_agent(models[0], [noop])
    ours = ahora.create_agent(models[1], [noop], max_steps=calls + 5)
    agent = ahora.Agent(models[2], [noop], max_steps=calls + 5)

    def run_bare() -> None:
        rewind(models[0])
        assert bare.invoke(question)["messages"][-1].content == "finished"

    def run_ours() -> None:
        rewind(models[1])
        state = ours.invoke(question)
        assert state["messages"][-1].content == "finished", state["messages"][-1]

    def run_agent() -> None:
        rewind(models[2])
        assert agent.ask("go").steps == calls

    # Interleave so machine noise hits both alike (each warmed up once first).
    run_bare()
    run_ours()
    bare_t: list[tuple[float, float]] = []
    ours_t: list[tuple[float, float]] = []
    for _ in range(reps):
        bare_t += time_runs(run_bare, 1, warm=False)
        ours_t += time_runs(run_ours, 1, warm=False)
    agent_t = time_runs(run_agent, reps)

    b, b_cpu = ms_per_step(bare_t, calls)
    o, o_cpu = ms_per_step(ours_t, calls)
    a, a_cpu = ms_per_step(agent_t, calls)
    ratio, cpu_ratio = o / b, o_cpu / b_cpu
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"per-step overhead, {calls} model calls per run, median of {reps} runs (load {load})")
    print("                                             wall ms   CPU ms /step")
    print(f"  langchain.agents.create_agent (bare)     {b:7.2f}  {b_cpu:7.2f}")
    print(f"  ahora.create_agent                       {o:7.2f}  {o_cpu:7.2f}")
    print(f"  ahora.Agent.ask (+InMemorySaver, Answer) {a:7.2f}  {a_cpu:7.2f}")
    print(
        f"  ratio ahora / bare                       {ratio:7.2f}  {cpu_ratio:7.2f}"
        f"   (goal <= {RATIO_GOAL}: wall {_verdict(ratio)}, CPU {_verdict(cpu_ratio)})"
    )

    if profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(reps):
            run_ours()
        prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).sort_stats("cumulative")
        stats.print_stats(r"ahora|langchain/agents", 25)
        print(buf.getvalue())


def _verdict(ratio: float) -> str:
    return "OK" if ratio <= RATIO_GOAL else "MISSED"


def parallel(reps: int) -> None:
    three = tool_calls(("slow", {"label": "a"}), ("slow", {"label": "b"}), ("slow", {"label": "c"}))

    def run() -> None:
        model = ScriptedChatModel(replies=[three, "all three done"])
        answer = ahora.Agent(model, [slow]).ask("run three")
        assert answer.text == "all three done" and len(answer.tool_calls) == 3

    med = statistics.median(wall for wall, _ in time_runs(run, reps))
    print(f"one turn calling three 1-second tools, median of {reps} runs")
    print(
        f"  ahora.Agent.ask                          {med:6.3f} s      (goal <= {PARALLEL_GOAL} s)"
        f"  {'OK' if med <= PARALLEL_GOAL else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=30, help="tool-call steps per run")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    per_step(args.steps, args.reps, args.profile)
    parallel(max(3, args.reps // 2))


if __name__ == "__main__":
    main()
