"""How long a run with ``timeout`` takes when the model is slower than the deadline.

    python benchmarks/bench_deadline.py

The scenario of issue 12: a loopback model that takes 3 s for every reply (a
calculator call, then the answer), asked with ``timeout=2`` and ``timeout=4``;
each once with ahora's hard deadline (``middleware/deadline.py``) and once without
it, the deadline then being checked only before each model call (the budget's soft
check). Goal: every run lands within the timeout plus 1 s, stopped early.
"""

from __future__ import annotations

import time
from typing import Any

from langchain.agents.middleware import AgentMiddleware

import ahora.middleware.deadline as deadline
from ahora import Agent
from ahora.testing.openai_server import OpenAIServer, last_message_is_tool_result
from ahora.tools.calculator import calculator

SLOW = 3.0


def _slow(body: dict[str, Any]) -> Any:
    if last_message_is_tool_result(body):
        return {"content": "Done.", "delay": SLOW}
    call = {"name": "calculator", "arguments": {"expression": "6*7"}}
    return {"tool_calls": [call], "delay": SLOW}


class _Off(AgentMiddleware[Any, Any, Any]):
    """Stands in for the deadline middleware: passes every call through."""


def run(timeout: float) -> tuple[float, bool, int]:
    from langchain_openai import ChatOpenAI

    with OpenAIServer(rule=_slow) as srv:
        model = ChatOpenAI(model="test-model", base_url=srv.base_url, api_key="k", max_retries=0)  # type: ignore[arg-type]
        agent = Agent(model, [calculator], timeout=timeout)
        started = time.monotonic()
        answer = agent.ask("What is 6*7?")
        return time.monotonic() - started, answer.stopped_early, srv.calls


def main() -> None:
    hard = deadline.DeadlineMiddleware
    print(f"model replies after {SLOW:g} s each; goal: timeout + 1 s, stopped early")
    for label, middleware in (("soft (no deadline middleware)", _Off), ("hard deadline", hard)):
        deadline.DeadlineMiddleware = middleware  # type: ignore[misc]
        try:
            for timeout in (2.0, 4.0):
                took, stopped, calls = run(timeout)
                print(
                    f"  {label:<30} timeout {timeout:g} s: {took:5.2f} s, "
                    f"stopped_early {stopped}, {calls} model calls"
                )
        finally:
            deadline.DeadlineMiddleware = hard  # type: ignore[misc]


if __name__ == "__main__":
    main()
