"""``--timeout`` as a hard deadline (``ahora.middleware.deadline``): the model call or
tool in flight is cut, and the run lands within the timeout plus one second, stopped
early, with an answer made of what was gathered."""

from __future__ import annotations

import time
from typing import Any

import pytest
from langchain_core.tools import tool

from ahora import Agent
from ahora.middleware.deadline import GRACE
from ahora.testing.openai_server import OpenAIServer, last_message_is_tool_result

pytestmark = pytest.mark.slow

CLOCK_CALL = {"tool_calls": [{"name": "lookup", "arguments": {"q": "santiago"}}]}


@tool(response_format="content_and_artifact")
def lookup(q: str) -> tuple[str, dict[str, Any]]:
    """Look something up.

    Args:
        q: What to look up.
    """
    src = {"url": "https://example.org/santiago", "title": "Santiago facts"}
    return f"{q}: 29 °C tomorrow", {"sources": [src]}


@tool
def slow_lookup(q: str) -> str:
    """Look something up, slowly.

    Args:
        q: What to look up.
    """
    time.sleep(5)
    return "too late"


def _slow_after_tool(body: dict[str, Any]) -> Any:
    """The tool call at once; every later reply takes 3 s."""
    if last_message_is_tool_result(body):
        return {"content": "Tomorrow: 29 °C.", "delay": 3}
    return CLOCK_CALL


def _agent(srv: OpenAIServer, tools: list[Any], timeout: float) -> Agent:
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="test-model", base_url=srv.base_url, api_key="k", max_retries=0)  # type: ignore[call-arg]
    return Agent(model, tools, timeout=timeout)


def test_a_slow_model_call_is_cut_and_the_run_lands_with_a_summary_of_the_results() -> None:
    with OpenAIServer(rule=_slow_after_tool) as srv:
        agent = _agent(srv, [lookup], timeout=2)
        started = time.monotonic()
        answer = agent.ask("Weather in Santiago tomorrow?")
        took = time.monotonic() - started
    assert took < 2 + 1, took  # was 2 + 3 + 3: the slow call, then the final one
    assert answer.stopped_early and answer.stop_reason
    assert "santiago: 29 °C tomorrow" in answer.text  # what the tool gathered
    # Its source travels in Answer.sources, which every view lists (not the text too).
    assert answer.cited_sources[0]["url"] == "https://example.org/santiago"


async def test_the_async_path_cancels_the_call_in_flight() -> None:
    with OpenAIServer(rule=_slow_after_tool) as srv:
        agent = _agent(srv, [lookup], timeout=2)
        started = time.monotonic()
        answer = await agent.aask("Weather in Santiago tomorrow?")
        took = time.monotonic() - started
    assert took < 2 + 1, took
    assert answer.stopped_early and "santiago: 29 °C tomorrow" in answer.text


def test_a_slow_tool_is_cut_and_a_quick_final_call_answers() -> None:
    def rule(body: dict[str, Any]) -> Any:
        if last_message_is_tool_result(body):
            return "I could not finish the lookup in time."
        return {"tool_calls": [{"name": "slow_lookup", "arguments": {"q": "x"}}]}

    with OpenAIServer(rule=rule) as srv:
        agent = _agent(srv, [slow_lookup], timeout=1.5)
        started = time.monotonic()
        answer = agent.ask("Look it up")
        took = time.monotonic() - started
        final_request = srv.requests[-1]
    assert took < 1.5 + 1, took  # the tool alone takes 5 s
    assert answer.stopped_early
    assert answer.text == "I could not finish the lookup in time."
    assert "tools" not in final_request or not final_request["tools"]  # the last call
    tool_result = final_request["messages"][-1]["content"]
    assert "was stopped" in tool_result and "time limit" in tool_result


def test_a_run_that_fits_is_untouched() -> None:
    with OpenAIServer(rule=lambda body: "Quick.") as srv:
        answer = _agent(srv, [lookup], timeout=5).ask("hi")
    assert answer.text == "Quick." and not answer.stopped_early
    assert GRACE < 1
