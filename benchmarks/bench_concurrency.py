"""Concurrency: many ``Agent.aask`` runs at once against a slow model.

Fifty conversations run concurrently against the loopback OpenAI-compatible server
(``ahora.testing.openai_server``, in its own process like a real model server), which
answers every call after 200 ms. Each run
makes two or three model calls (one or two rounds of a ``calculator`` call, then the
answer), decided by the server's rule mode from the request itself, so the
conversations stay independent however they interleave. The goal: all fifty finish
in at most 1.5 times the wall time of one run alone.

Side by side, the same call pattern through:

* the raw ``openai.AsyncOpenAI`` client (the floor: HTTP and JSON only),
* a bare ``langchain.agents.create_agent`` with ``ChatOpenAI``,
* ``ahora.Agent.aask`` (the same LangChain loop plus ahora's middleware, an
  in-memory checkpointer and the ``Answer`` it builds at the end).

    python benchmarks/bench_concurrency.py [--runs 50] [--delay 0.2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ahora.testing.openai_server import OpenAIServer, Reply

MODEL = "test-model"


def rule(body: dict[str, Any]) -> Reply:
    """Questions ending in "twice" get two tool rounds (3 calls), the others one (2 calls)."""
    messages = body["messages"]
    question = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    done = sum(1 for m in messages if m["role"] == "tool")
    rounds = 2 if str(question).endswith("twice") else 1
    if done < rounds:
        return {"tool_calls": [{"name": "calculator", "arguments": {"expression": f"{done}+2^10"}}]}
    return f"Answered after {done} tool calls."


def question(i: int) -> str:
    return f"Question {i}: compute it" + (" twice" if i % 2 else "")


# --- the three contenders ------------------------------------------------------------


def raw_client(base_url: str) -> Callable[[str], Awaitable[str]]:
    from openai import AsyncOpenAI

    from ahora.tools.calculator import calculator

    client = AsyncOpenAI(api_key="test", base_url=base_url, max_retries=0)
    schema = {
        "type": "function",
        "function": {
            "name": calculator.name,
            "description": calculator.description,
            "parameters": calculator.tool_call_schema.model_json_schema(),  # type: ignore[union-attr]
        },
    }

    async def run(q: str) -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": q}]
        while True:
            resp = await client.chat.completions.create(
                model=MODEL,
                messages=messages,  # type: ignore[arg-type]
                tools=[schema],  # type: ignore[list-item]
            )
            msg = resp.choices[0].message
            if not msg.tool_calls:
                return msg.content or ""
            messages.append(msg.model_dump(exclude_none=True))
            for call in msg.tool_calls:
                args = json.loads(call.function.arguments)  # type: ignore[union-attr]
                result = calculator.invoke(args)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": str(result)})

    return run


def bare_create_agent(base_url: str) -> Callable[[str], Awaitable[str]]:
    from langchain.agents import create_agent
    from langchain_openai import ChatOpenAI

    from ahora.tools.calculator import calculator

    model = ChatOpenAI(model=MODEL, api_key="test", base_url=base_url, max_retries=0)  # type: ignore[arg-type]
    agent = create_agent(model, [calculator])

    async def run(q: str) -> str:
        state = await agent.ainvoke({"messages": [{"role": "user", "content": q}]})
        return str(state["messages"][-1].content)

    return run


def ahora_agent(base_url: str) -> Callable[[str], Awaitable[str]]:
    from langchain_openai import ChatOpenAI

    from ahora import Agent

    model = ChatOpenAI(model=MODEL, api_key="test", base_url=base_url, max_retries=0)  # type: ignore[arg-type]
    agent = Agent(model, tools=["calculator"])

    async def run(q: str) -> str:
        return (await agent.aask(q)).text

    return run


# --- measuring -----------------------------------------------------------------------


async def timed(run: Callable[[str], Awaitable[str]], questions: list[str]) -> float:
    started = time.perf_counter()
    answers = await asyncio.gather(*(run(q) for q in questions))
    elapsed = time.perf_counter() - started
    for q, a in zip(questions, answers, strict=True):
        expected = 2 if q.endswith("twice") else 1
        assert a == f"Answered after {expected} tool calls.", (q, a)
    return elapsed


async def measure(
    make: Callable[[str], Callable[[str], Awaitable[str]]], base_url: str, runs: int, repeat: int
) -> tuple[float, float]:
    """(one run alone, ``runs`` at once): the best of ``repeat`` tries each."""
    run = make(base_url)
    await timed(run, [question(1)])  # warm up: imports, connections, caches
    one = min([await timed(run, [question(1)]) for _ in range(repeat)])
    many = min([await timed(run, [question(i) for i in range(runs)]) for _ in range(repeat)])
    return one, many


async def main_async(base_url: str, runs: int, delay: float, repeat: int) -> None:
    contenders = [
        ("raw openai.AsyncOpenAI", raw_client),
        ("langchain create_agent", bare_create_agent),
        ("ahora Agent.aask", ahora_agent),
    ]
    print(
        f"{runs} concurrent runs of 2-3 model calls; the model answers each call after "
        f"{delay * 1000:.0f} ms (best of {repeat})\n"
    )
    print(f"{'':<24}{'one run':>10}{f'{runs} at once':>14}{'ratio':>9}")
    for label, make in contenders:
        one, many = await measure(make, base_url, runs, repeat)
        print(f"{label:<24}{one:>9.3f}s{many:>13.3f}s{many / one:>8.2f}x")
    print("\ngoal: ahora's ratio at most 1.5x")


def serve(port_file: Path, delay: float) -> None:
    """The model server, run in its own process (like a real one): no shared GIL."""
    server = OpenAIServer(rule=rule, default_delay=delay).start()
    port_file.write_text(str(server.port))
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # internal: server mode
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.delay)
        return
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port_file), "--delay", str(args.delay)]
        )
        try:
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text()):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the model server did not start")
                time.sleep(0.05)
            base_url = f"http://127.0.0.1:{port_file.read_text()}/v1"
            asyncio.run(main_async(base_url, args.runs, args.delay, args.repeat))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
