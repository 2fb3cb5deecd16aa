"""Per-step overhead of ahora's loop vs a bare LangChain ``create_agent``, and parallel tools.

    /work/venv/bin/python benchmarks/bench_loop.py [--steps 30] [--reps 7] [--profile]

1. Per-step overhead: the same zero-latency ``ScriptedChatModel`` (a rule reply: call
   a no-op tool ``--steps`` times, then answer) drives ``ahora.create_agent`` and a bare
   ``langchain.agents.create_agent``; the figure is time per model call, median of
   ``--reps`` reps; the ratio is the median of each rep's ratio to the bare graph run
   in the same rep (every rep runs each graph once, in a random order). Goal: ahora /
   bare <= 1.2. Both wall time (``perf_counter``) and this process's CPU time
   (``process_time``) are printed: other processes stretch wall time more than CPU
   time, so the CPU ratio is the one to trust under load (the load average is printed
   with it). Two floors are printed beside them: LangChain's graph with one middleware
   that does nothing (LangChain wraps each hook in a LangSmith span, tracing on or
   off), and with a per-tool time limit too, which a sync tool can only get by
   running in another thread: every ahora graph pays both.
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
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from langchain.agents import create_agent as lc_create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

import ahora
from ahora.daemon_call import call_within
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


class NoopMiddleware(AgentMiddleware[Any, Any, Any]):
    """Both wrap hooks, doing nothing: what LangChain charges for any middleware."""

    def wrap_model_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        return handler(request)

    def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        return handler(request)


class HandOffMiddleware(NoopMiddleware):
    """And a per-tool time limit, the only way a sync tool can have one: the call runs
    in another thread (``ahora.daemon_call``), one hand-off a call."""

    def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        return call_within(60.0, lambda: handler(request))


def per_step(steps: int, reps: int, profile: bool) -> None:
    calls = steps + 1
    question: Any = {"messages": [HumanMessage("go")]}
    tools = [noop]
    graphs: dict[str, Any] = {
        "bare": lc_create_agent,
        "noop": lambda m, t: lc_create_agent(m, t, middleware=[NoopMiddleware()]),
        "handoff": lambda m, t: lc_create_agent(m, t, middleware=[HandOffMiddleware()]),
        "ahora": lambda m, t: ahora.create_agent(m, t, max_steps=calls + 5),
        "timed": lambda m, t: ahora.create_agent(m, t, max_steps=calls + 5, timeout=600),
    }
    models = {name: rule_model(steps) for name in [*graphs, "agent"]}
    built = {name: make(models[name], tools) for name, make in graphs.items()}
    agent = ahora.Agent(models["agent"], tools, max_steps=calls + 5)

    def runner(name: str) -> Callable[[], None]:
        def run() -> None:
            rewind(models[name])
            if name == "agent":
                assert agent.ask("go").steps == calls
                return
            state = built[name].invoke(question)
            assert state["messages"][-1].content == "finished", state["messages"][-1]

        return run

    names = [*graphs, "agent"]
    runs = {name: runner(name) for name in names}
    for run in runs.values():  # warm up: imports, schemas, first-call caches
        run()
    # Each rep runs every graph once, in a fresh random order, and each is compared with
    # the bare graph *of the same rep*: noise that lasts a rep (another process, a
    # frequency step) hits both sides of the ratio, which a ratio of medians would not.
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    shuffle = random.Random(0).shuffle
    for _ in range(reps):
        order = list(names)
        shuffle(order)
        for name in order:
            times[name] += time_runs(runs[name], 1, warm=False)
    base = times["bare"]

    def paired(name: str, i: int) -> float:
        return statistics.median(t[i] / b[i] for t, b in zip(times[name], base, strict=True))

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"per-step overhead, {calls} model calls per run, {reps} reps (load {load})")
    print("  median ms per model call, and the median of each rep's ratio to bare")
    print("                                                 wall     CPU   ratio wall   CPU")
    labels = {
        "bare": "langchain.agents.create_agent (bare)",
        "noop": "  + one no-op middleware (LangChain's floor)",
        "handoff": "  + a thread per tool call (a sync timeout)",
        "ahora": "ahora.create_agent",
        "timed": "ahora.create_agent, timeout=600",
        "agent": "ahora.Agent.ask (+InMemorySaver, Answer)",
    }
    for name in names:
        wall = statistics.median(t[0] for t in times[name]) / calls * 1000
        cpu = statistics.median(t[1] for t in times[name]) / calls * 1000
        ratios = f"{paired(name, 0):6.2f}  {paired(name, 1):6.2f}"
        print(f"  {labels[name]:45s} {wall:6.2f}  {cpu:6.2f}   {ratios}")
    ratio, cpu_ratio = paired("ahora", 0), paired("ahora", 1)
    print(
        f"  ahora / bare: wall {ratio:.2f}, CPU {cpu_ratio:.2f}"
        f"   (goal <= {RATIO_GOAL}: wall {_verdict(ratio)}, CPU {_verdict(cpu_ratio)})"
    )

    if profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(reps):
            runs["ahora"]()
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
