"""Any deadline lands within the deadline plus the grace, through ``Agent(timeout=...)``;
the wrap-up names only this run's results; ``call_within`` hands the caller's context to
the thread it may abandon."""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from ahora import Agent
from ahora.daemon_call import call_within
from ahora.middleware.deadline import GRACE
from ahora.testing import ScriptedChatModel

SLACK = 0.5  # bookkeeping on a busy 2-core machine


@tool(response_format="content_and_artifact")
def lookup(q: str) -> tuple[str, dict[str, Any]]:
    """Look something up.

    Args:
        q: What to look up.
    """
    return f"{q}: found", {"sources": [{"url": f"https://example.org/{q}", "title": q}]}


@tool
def slow_lookup(q: str) -> str:
    """Look something up, slowly.

    Args:
        q: What to look up.
    """
    time.sleep(4)
    return "too late"


def _call(name: str, q: str) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": {"q": q}, "id": f"c-{q}"}])


def _slow_reply(messages: Any, tools: Any) -> AIMessage:
    time.sleep(4)
    return AIMessage("too late")


def _script(slow: str) -> list[Any]:
    """What the model does: a quick lookup, then the slow part, which is either every
    later model call or a slow tool."""
    if slow == "model":
        return [_call("lookup", "first"), _slow_reply, _slow_reply, _slow_reply]
    # The slow tool is cut at the deadline; the last, tool-less call is slow too, so
    # only the grace stands between the run and the summary.
    return [_call("lookup", "first"), _call("slow_lookup", "x"), _slow_reply, _slow_reply]


@settings(max_examples=6, deadline=None)
@given(
    st.floats(0.3, 1.2),
    st.sampled_from(["model", "tool"]),
    st.booleans(),
)
async def test_any_deadline_lands_within_the_deadline_plus_the_grace(
    timeout: float, slow: str, asynchronous: bool
) -> None:
    agent = Agent(ScriptedChatModel(replies=_script(slow)), [lookup, slow_lookup], timeout=timeout)
    started = time.monotonic()
    answer = await agent.aask("go") if asynchronous else agent.ask("go")
    took = time.monotonic() - started
    assert took <= timeout + GRACE + SLACK, (took, timeout, slow, asynchronous)
    assert answer.stopped_early
    assert "first: found" in answer.text  # the summary of what was gathered


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_the_wrap_up_names_only_this_runs_results(asynchronous: bool) -> None:
    model = ScriptedChatModel(
        replies=[
            _call("lookup", "earlier"),
            "An earlier answer.",
            _call("lookup", "today"),
            _slow_reply,
            _slow_reply,
        ]
    )
    agent = Agent(model, [lookup], timeout=0.8)
    agent.ask("the first question", thread="t")
    answer = await agent.aask("now", thread="t") if asynchronous else agent.ask("now", thread="t")
    assert answer.stopped_early
    assert "today: found" in answer.text  # this run's result
    assert "earlier" not in answer.text  # not an earlier turn's
    # The sources are listed once, by the views, not as raw URLs in the text.
    assert [s["url"] for s in answer.sources] == ["https://example.org/today"]


def test_the_tool_calls_of_a_reply_that_comes_after_the_deadline_never_run() -> None:
    started: list[str] = []

    @tool
    def marker(q: str) -> str:
        """Mark.

        Args:
            q: Anything.
        """
        started.append(q)
        return "ran"

    def late_call(messages: Any, tools: Any) -> AIMessage:
        time.sleep(0.5)  # replies after the deadline; its tool call must not run
        return _call("marker", "late")

    model = ScriptedChatModel(replies=[late_call, "Final."])
    answer = Agent(model, [marker], timeout=0.3).ask("go")
    assert started == []
    assert answer.stopped_early


# --- call_within -------------------------------------------------------------------------

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


def test_call_within_returns_the_result_and_raises_the_calls_own_error() -> None:
    assert call_within(2, lambda: 42) == 42
    error = KeyError("inner")

    def broken() -> None:
        raise error

    with pytest.raises(KeyError) as info:
        call_within(2, broken)
    assert info.value is error


@settings(max_examples=8, deadline=None)
@given(st.floats(0.05, 0.4))
def test_call_within_gives_up_on_time(seconds: float) -> None:
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        call_within(seconds, lambda: release.wait(10))
    took = time.monotonic() - started
    release.set()
    assert seconds - 0.01 <= took <= seconds + 0.3


def test_a_negative_limit_is_no_time_at_all() -> None:
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        call_within(-5, lambda: release.wait(10))
    release.set()
    assert time.monotonic() - started < 0.3


def test_the_callers_context_reaches_the_abandoned_thread() -> None:
    seen: list[str] = []
    release = threading.Event()
    done = threading.Event()

    def call() -> None:
        release.wait(5)
        seen.append(VAR.get())
        done.set()

    token = VAR.set("the run's value")
    try:
        with pytest.raises(TimeoutError):
            call_within(0.05, call, name="ahora-test-ctx")
        [worker] = [t for t in threading.enumerate() if t.name == "ahora-test-ctx"]
        assert worker.daemon  # never holds the process at exit
    finally:
        VAR.reset(token)
    release.set()
    assert done.wait(5)
    assert seen == ["the run's value"]  # a copy: the caller's later change does not reach it


def test_an_abandoned_call_is_named_for_thread_dumps() -> None:
    release = threading.Event()
    with pytest.raises(TimeoutError):
        call_within(0.01, lambda: release.wait(5))
    try:
        assert any(t.name == "ahora-call" and t.daemon for t in threading.enumerate())
    finally:
        release.set()
