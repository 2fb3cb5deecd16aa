"""Per-step overhead of ahora's loop vs a bare LangChain ``create_agent``, and parallel tools.

    /work/venv/bin/python benchmarks/bench_loop.py [--steps 30] [--reps 7] [--profile]

1. Per-step overhead: the same zero-latency ``ScriptedChatModel`` (a rule reply: call
   a no-op tool ``--steps`` times, then answer) drives ``ahora.create_agent`` and a bare
   ``langchain.agents.create_agent``; the figure is wall time per model call, median
   of ``--reps`` runs. Goal: ahora / bare <= 1.2.
2. One turn whose single model reply calls three tools that each sleep 1 s.
   Goal: <= 1.3 s (they run concurrently).

``--profile`` prints the top of a cProfile of ahora's runs, to see where time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
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


def time_runs(run: Callable[[], Any], reps: int) -> list[float]:
    run()  # warm up: imports, schema building, first-call caches
    out = []
    for _ in range(reps):
        began = time.perf_counter()
        run()
        out.append(time.perf_counter() - began)
    return out


def per_step(steps: int, reps: int, profile: bool) -> None:
    calls = steps + 1
    question = {"messages": [HumanMessage("go")]}

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

    # Interleave so machine noise hits both alike.
    bare_t: list[float] = []
    ours_t: list[float] = []
    for _ in range(reps):
        bare_t += time_runs(run_bare, 1)
        ours_t += time_runs(run_ours, 1)
    agent_t = time_runs(run_agent, reps)

    b = statistics.median(bare_t) / calls * 1000
    o = statistics.median(ours_t) / calls * 1000
    a = statistics.median(agent_t) / calls * 1000
    ratio = o / b
    print(f"per-step overhead, {calls} model calls per run, median of {reps} runs")
    print(f"  langchain.agents.create_agent (bare)     {b:6.2f} ms/step")
    print(f"  ahora.create_agent                       {o:6.2f} ms/step")
    print(
        f"  ratio ahora / bare                       {ratio:6.2f}   (goal <= {RATIO_GOAL})"
        f"  {'OK' if ratio <= RATIO_GOAL else 'MISSED'}"
    )
    print(f"  ahora.Agent.ask (+InMemorySaver, Answer) {a:6.2f} ms/step")

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


def parallel(reps: int) -> None:
    three = tool_calls(("slow", {"label": "a"}), ("slow", {"label": "b"}), ("slow", {"label": "c"}))

    def run() -> None:
        model = ScriptedChatModel(replies=[three, "all three done"])
        answer = ahora.Agent(model, [slow]).ask("run three")
        assert answer.text == "all three done" and len(answer.tool_calls) == 3

    times = time_runs(run, reps)
    med = statistics.median(times)
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
