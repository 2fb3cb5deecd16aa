"""A tool that raises becomes an error message the model reads, not a crashed run;
``ToolFailure`` (the plugin contract) is shown word for word; LangGraph's interrupts
are not errors and must pause the run, on the sync and the async path alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langgraph.types import interrupt

from ahora import Agent
from ahora.errors import ToolFailure
from ahora.testing import ScriptedChatModel, tool_call
from tests.fixtures.faults import FAULTS, assert_survived


def failing(city: str) -> str:
    """Fail the documented way."""
    raise ToolFailure(f"no weather station near {city}; try a larger town")


async def afailing(city: str) -> str:
    """Fail the documented way (async)."""
    raise ToolFailure(f"no weather station near {city}; try a larger town")


def crashing(city: str) -> str:
    """Fail with a bug."""
    raise RuntimeError(f"missing {city}\nsecond line is not shown")


async def acrashing(city: str) -> str:
    """Fail with a bug (async)."""
    raise ValueError("")


def confirming(city: str) -> str:
    """Ask a human first (a LangGraph interrupt), then report what they said."""
    decision = interrupt({"action_requests": [{"name": "confirming", "args": {"city": city}}]})
    return f"confirmed {city}: {decision}"


async def aconfirming(city: str) -> str:
    """Ask a human first (async)."""
    decision = interrupt({"action_requests": [{"name": "aconfirming", "args": {"city": city}}]})
    return f"confirmed {city}: {decision}"


def tool_errors(answer: Any) -> list[str]:
    found = [m for m in answer.messages if isinstance(m, ToolMessage) and m.status == "error"]
    return [str(m.content) for m in found]


def run(agent: Agent, question: str, asynchronous: bool) -> Any:
    import asyncio

    return asyncio.run(agent.aask(question)) if asynchronous else agent.ask(question)


@pytest.mark.parametrize(("tool", "asynchronous"), [(failing, False), (afailing, True)])
def test_a_tool_failure_reaches_the_model_in_its_own_words(tool: Any, asynchronous: bool) -> None:
    name = tool.__name__
    model = ScriptedChatModel(replies=[tool_call(name, {"city": "Xyz"}), "No data for Xyz."])
    answer = run(Agent(model, [tool]), "weather in Xyz", asynchronous)
    assert answer.text == "No data for Xyz."
    [error] = tool_errors(answer)
    assert "Error: no weather station near Xyz; try a larger town" in error
    assert "Try different arguments" in error
    assert "failed (" not in error  # a ToolFailure is not reported as a crash
    seen = model.requests[-1]  # the model read it
    assert any("no weather station near Xyz" in str(m.content) for m in seen)


def test_a_crashing_tool_is_reported_with_its_kind_and_first_line() -> None:
    model = ScriptedChatModel(replies=[tool_call("crashing", {"city": "Oslo"}), "Sorry."])
    answer = Agent(model, [crashing]).ask("go")
    [error] = tool_errors(answer)
    assert "Error: the tool crashing failed (RuntimeError: missing Oslo)." in error
    assert "second line" not in error


async def test_an_async_crash_without_a_message_names_the_kind_only() -> None:
    model = ScriptedChatModel(replies=[tool_call("acrashing", {"city": "Oslo"}), "Sorry."])
    answer = await Agent(model, [acrashing]).aask("go")
    [error] = tool_errors(answer)
    assert "Error: the tool acrashing failed (ValueError)." in error


@pytest.mark.parametrize(("tool", "asynchronous"), [(confirming, False), (aconfirming, True)])
def test_an_interrupt_in_a_tool_pauses_the_run_and_is_not_an_error(
    tool: Any, asynchronous: bool
) -> None:
    import asyncio

    name = tool.__name__
    model = ScriptedChatModel(replies=[tool_call(name, {"city": "Oslo"}), "Done."])
    agent = Agent(model, [tool])
    paused = run(agent, "go", asynchronous)
    assert paused.pending == [{"name": name, "args": {"city": "Oslo"}}]
    assert tool_errors(paused) == []
    assert model.calls == 1  # the model was not told the tool failed
    thread = paused.thread_id or ""
    if asynchronous:
        done = asyncio.run(agent.aresume(thread, approve=True))
    else:
        done = agent.resume(thread, approve=True)
    assert done.text == "Done." and done.pending == []
    results = [str(m.content) for m in done.messages if isinstance(m, ToolMessage)]
    assert any("confirmed Oslo" in r and "approve" in r for r in results), results


def test_fault_is_survived(tmp_path: Path) -> None:
    """A call to a tool that does not exist is answered, not raised."""
    assert_survived(FAULTS["unknown_tool"], tmp_path)


def long_failure(city: str) -> str:
    """Fail with a very long message."""
    raise RuntimeError("x" * 1000)


def test_the_error_answers_its_own_call_and_a_long_message_is_cut() -> None:
    call = tool_call("long_failure", {"city": "Oslo"})
    model = ScriptedChatModel(replies=[call, "Sorry."])
    answer = Agent(model, [long_failure]).ask("go")
    [message] = [m for m in answer.messages if isinstance(m, ToolMessage)]
    assert message.tool_call_id == call.tool_calls[0]["id"] and message.name == "long_failure"
    assert message.status == "error"
    assert "(RuntimeError: " + "x" * 300 + ")." in str(message.content)
    assert "x" * 301 not in str(message.content)
