"""What tracing costs per step: off, on with an in-memory exporter, on with OTLP.

    python benchmarks/bench_tracing.py [--steps 30] [--reps 7]

The zero-latency ``ScriptedChatModel`` of ``bench_loop.py`` (call a no-op tool
``--steps`` times, then answer) drives, in one process and interleaved so machine
noise hits all alike:

1. a bare ``langchain.agents.create_agent``;
2. ``ahora.create_agent`` with tracing off (no OpenTelemetry imported by ahora; the
   timing record is still written into every message);
   Beside it, the same graph built without the timing middleware: the record's cost.
3. the same graph traced, spans going to an in-memory exporter (SDK cost only);
4. the same graph traced, spans sent by a ``BatchSpanProcessor`` over OTLP/HTTP to
   the loopback receiver of ``tests/fixtures/otlp_receiver.py`` (flushed at each
   run's end, so the export is inside the timing).

Each figure is time per model call, median of ``--reps`` runs: wall time, and the
process's CPU time (steadier on a shared machine). Traced runs go
through ``ahora.Agent`` (which opens the ``invoke_agent`` span); so does a fifth,
untraced ``Agent`` line, its baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests/fixtures/otlp_receiver.py

from benchmarks.bench_loop import noop, rewind, rule_model  # noqa: E402
from langchain.agents import create_agent as lc_create_agent  # noqa: E402
from langchain_core.messages import HumanMessage  # noqa: E402

import ahora  # noqa: E402
from ahora import tracing  # noqa: E402


def _without_timing(build: Callable[[], Any]) -> Any:
    """A graph built without ``middleware/tracing.py`` (ahora as it was before it)."""
    import ahora.middleware.tracing as module

    kept = module.traced
    module.traced = list  # type: ignore[assignment]
    try:
        return build()
    finally:
        module.traced = kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=30, help="tool-call steps per run")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    if tracing.enabled():
        sys.exit("unset OTEL_EXPORTER_OTLP_ENDPOINT first: this compares tracing off and on")

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from tests.fixtures.otlp_receiver import OTLPReceiver

    steps, reps = args.steps, args.reps
    calls = steps + 1
    question = {"messages": [HumanMessage("go")]}
    memory = InMemorySpanExporter()
    in_memory = TracerProvider()
    in_memory.add_span_processor(SimpleSpanProcessor(memory))

    with OTLPReceiver() as receiver:
        otlp = TracerProvider()
        otlp.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint + "/v1/traces"))
        )
        models = [rule_model(steps) for _ in range(4)]
        bare = lc_create_agent(models[0], [noop])
        graph = ahora.create_agent(models[1], [noop], max_steps=calls + 5)
        untimed = _without_timing(
            lambda: ahora.create_agent(models[3], [noop], max_steps=calls + 5)
        )
        agent = ahora.Agent(models[2], [noop], max_steps=calls + 5)

        def run_bare() -> None:
            rewind(models[0])
            assert bare.invoke(question)["messages"][-1].content == "finished"

        def run_graph() -> None:
            rewind(models[1])
            assert graph.invoke(question)["messages"][-1].content == "finished"

        def with_provider(provider: Any, run: Callable[[], None]) -> Callable[[], None]:
            def traced() -> None:
                tracing.use_provider(provider)
                try:
                    run()
                    if provider is not None:
                        provider.force_flush()
                finally:
                    tracing.use_provider(None)
                memory.clear()

            return traced

        def run_untimed() -> None:
            rewind(models[3])
            assert untimed.invoke(question)["messages"][-1].content == "finished"

        def run_agent() -> None:
            rewind(models[2])
            assert agent.ask("go").steps == calls

        runs: dict[str, Callable[[], None]] = {
            "langchain.agents.create_agent (bare)": run_bare,
            "ahora.create_agent, no timing middleware": run_untimed,
            "ahora.create_agent, tracing off": run_graph,
            "ahora.Agent.ask, tracing off": run_agent,
            "ahora.Agent.ask, in-memory exporter": with_provider(in_memory, run_agent),
            "ahora.Agent.ask, OTLP/HTTP to loopback": with_provider(otlp, run_agent),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():
            run()  # warm up: imports, schema building, first-call caches
        for _ in range(reps):
            for name, run in runs.items():
                began, began_cpu = time.perf_counter(), time.process_time()
                run()
                times[name].append(time.perf_counter() - began)
                cpu[name].append(time.process_time() - began_cpu)
        spans = len(receiver.spans)
        otlp.shutdown()

    def ms(values: list[float]) -> float:
        return statistics.median(values) / calls * 1000

    print(f"per step, {calls} model calls per run, median of {reps} runs (wall and CPU)")
    print(f"  {'':<40} {'wall':>7}  {'CPU':>7}")
    for name in runs:
        print(f"  {name:<40} {ms(times[name]):5.2f} ms {ms(cpu[name]):5.2f} ms")
    print(f"  spans the loopback receiver decoded: {spans}")


if __name__ == "__main__":
    main()
