"""The extra cost of a typed answer over a text answer, for the same scripted run.

    python benchmarks/bench_typed.py [--reps 30]

Both runs make one tool call and then answer; the text run answers in prose, the
typed run through the output tool (``ask(..., output=Forecast)``, the tool strategy),
with the same zero-latency ``ScriptedChatModel``. Printed side by side: model calls
(steps) and CPU milliseconds per run (median), so what the typed answer adds is the
validation and the output tool, not a model's latency.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from pydantic import BaseModel

from ahora import Agent
from ahora.testing import ScriptedChatModel, tool_call


class Forecast(BaseModel):
    place: str
    max_c: float
    min_c: float
    rain: bool


GOOD = {"place": "Santiago", "max_c": 29.0, "min_c": 14.0, "rain": False}


def _model(final: Any) -> ScriptedChatModel:
    def reply(messages: list[Any], tools: list[Any]) -> Any:
        done = any(getattr(m, "type", "") == "tool" for m in messages)
        return final if done else tool_call("clock", {"timezone": "UTC"})

    return ScriptedChatModel(replies=[reply] * 10_000)


def measure(reps: int) -> None:
    text_agent = Agent(_model("Tomorrow: 29 °C, dry."), ["clock"])
    typed_agent = Agent(_model(tool_call("Forecast", GOOD)), ["clock"], output=Forecast)
    rows: dict[str, tuple[list[float], int]] = {}
    for label, run in (
        ("text answer", lambda: text_agent.ask("Weather tomorrow?")),
        ("typed answer (tool strategy)", lambda: typed_agent.ask("Weather tomorrow?")),
    ):
        run()  # warm up
        cpu: list[float] = []
        steps = 0
        for _ in range(reps):
            began = time.process_time()
            answer = run()
            cpu.append((time.process_time() - began) * 1000)
            steps = answer.steps
        rows[label] = (cpu, steps)
    base = statistics.median(rows["text answer"][0])
    print(f"one tool call then the answer, median of {reps} runs (CPU time)")
    for label, (cpu, steps) in rows.items():
        med = statistics.median(cpu)
        print(f"  {label:30s} {steps} steps  {med:6.2f} ms  x{med / base:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    measure(parser.parse_args().reps)
