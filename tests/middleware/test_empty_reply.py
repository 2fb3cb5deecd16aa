"""An empty model reply is asked for once more, then explained in words: sync and async."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import SystemMessage

from ahora import Agent
from ahora.middleware.empty_reply import EMPTY_FALLBACK
from ahora.testing import ScriptedChatModel, tool_call
from tests.fixtures.faults import FAULTS, assert_survived


def noop(text: str) -> str:
    """Do nothing."""
    return "ok"


def system_prompt(messages: list[Any]) -> str:
    return str(messages[0].content) if isinstance(messages[0], SystemMessage) else ""


async def test_an_empty_reply_twice_through_aask_is_explained() -> None:
    model = ScriptedChatModel(replies=["", "  \n"])
    answer = await Agent(model, [noop], instructions="Be brief.").aask("hi")
    assert answer.text == EMPTY_FALLBACK
    assert model.calls == 2
    nudged = system_prompt(model.requests[1])
    assert "previous reply was empty" in nudged and "Be brief." in nudged
    assert "previous reply was empty" not in system_prompt(model.requests[0])


async def test_an_empty_reply_once_through_aask_gets_the_second_answer() -> None:
    model = ScriptedChatModel(replies=["", "Now a real answer."])
    answer = await Agent(model, [noop]).aask("hi")
    assert answer.text == "Now a real answer." and model.calls == 2


def test_the_retry_keeps_the_instructions() -> None:
    model = ScriptedChatModel(replies=["", "Answer."])
    Agent(model, [noop], instructions="Answer like a pirate.").ask("hi")
    assert "Answer like a pirate." in system_prompt(model.requests[1])


def test_a_tool_call_without_text_is_not_an_empty_reply() -> None:
    model = ScriptedChatModel(replies=[tool_call("noop", {"text": "x"}), "Done."])
    answer = Agent(model, [noop]).ask("hi")
    assert answer.text == "Done." and model.calls == 2
    assert all("previous reply was empty" not in system_prompt(r) for r in model.requests)


def test_fault_is_survived(tmp_path: Path) -> None:
    """An empty reply is retried once, then answered with a note."""
    assert_survived(FAULTS["empty_reply_twice"], tmp_path)


def test_the_nudge_on_its_own_without_a_system_prompt() -> None:
    """The middleware is public: used without a system prompt, the nudge stands alone."""
    from langchain.agents import create_agent as lc_create_agent

    from ahora.middleware import EmptyReplyMiddleware

    model = ScriptedChatModel(replies=["", "Answer."])
    graph = lc_create_agent(model, [], middleware=[EmptyReplyMiddleware()])
    graph.invoke({"messages": [("user", "hi")]})
    assert not isinstance(model.requests[0][0], SystemMessage)
    nudge = system_prompt(model.requests[1])
    assert nudge.strip().startswith("Your previous reply was empty.")
    assert "None" not in nudge
