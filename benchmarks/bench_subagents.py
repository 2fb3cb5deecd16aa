"""The overhead of one delegation: the same work done by one agent, and handed to a
sub-agent, with the same zero-latency scripted model, in one run.

    python benchmarks/bench_subagents.py [--reps 30]

The work is one clock call and an answer. Delegated, the caller calls the sub-agent
(one extra model call to hand over, one to answer from its result) and the sub-agent
does the work. Printed side by side: model calls (steps) and CPU milliseconds per run
(median).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from langchain_core.messages import ToolMessage

from ahora import Agent
from ahora.testing import ScriptedChatModel, tool_call


def worker_model() -> ScriptedChatModel:
    def reply(messages: list[Any], tools: list[Any]) -> Any:
        if any(isinstance(m, ToolMessage) for m in messages):
            return "It is noon in UTC."
        return tool_call("clock", {"timezone": "UTC"})

    return ScriptedChatModel(replies=[reply] * 100_000)


def boss_model() -> ScriptedChatModel:
    def reply(messages: list[Any], tools: list[Any]) -> Any:
        if any(isinstance(m, ToolMessage) for m in messages):
            return "The time agent says it is noon in UTC."
        return tool_call("timekeeper", {"task": "What time is it in UTC?"})

    return ScriptedChatModel(replies=[reply] * 100_000)


def measure(reps: int) -> None:
    alone = Agent(worker_model(), ["clock"])
    helper = Agent(worker_model(), ["clock"]).as_tool("timekeeper", "Tells the time.")
    delegating = Agent(boss_model(), [helper])
    rows = {}
    for label, agent in (("one agent", alone), ("delegated to a sub-agent", delegating)):
        agent.ask("Time in UTC?")  # warm up
        cpu: list[float] = []
        steps = 0
        for _ in range(reps):
            began = time.process_time()
            steps = agent.ask("Time in UTC?").steps
            cpu.append((time.process_time() - began) * 1000)
        rows[label] = (statistics.median(cpu), steps)
    base = rows["one agent"][0]
    print(f"one clock call and an answer, median of {reps} runs (CPU time)")
    for label, (ms, steps) in rows.items():
        print(f"  {label:28s} {steps} steps  {ms:6.2f} ms  x{ms / base:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    measure(parser.parse_args().reps)
