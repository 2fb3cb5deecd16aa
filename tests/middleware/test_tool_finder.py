"""A call to a tool the graph does not hold runs with the tool the finder gives, sync
and async, and with none found LangChain's own refusal stands."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool

from ahora.middleware.tool_finder import ToolFinderMiddleware
from ahora.testing import ScriptedChatModel, tool_call


@tool
def held() -> str:
    """A tool the graph holds."""
    return "held ran"


@tool
def ghost(word: str) -> str:
    """A tool the graph does not hold.

    Args:
        word: Echoed back.
    """
    return f"ghost ran with {word}"


def _graph(found: dict[str, BaseTool]) -> Any:
    model = ScriptedChatModel(replies=[tool_call("ghost", {"word": "boo"}), "done"])
    asked: list[str] = []

    def find(name: str) -> BaseTool | None:
        asked.append(name)
        return found.get(name)

    graph = create_agent(model, [held], middleware=[ToolFinderMiddleware(find)])
    return graph, asked


def _result(values: dict[str, Any]) -> ToolMessage:
    return next(m for m in values["messages"] if isinstance(m, ToolMessage))


def test_an_unheld_tool_is_found_by_name_and_runs() -> None:
    graph, asked = _graph({"ghost": ghost})
    result = _result(graph.invoke({"messages": [HumanMessage("go")]}))
    assert (result.content, result.status) == ("ghost ran with boo", "success")
    assert asked == ["ghost"]  # asked only for what the graph lacks


def test_async_finds_it_too() -> None:
    graph, _ = _graph({"ghost": ghost})
    result = _result(asyncio.run(graph.ainvoke({"messages": [HumanMessage("go")]})))
    assert result.content == "ghost ran with boo"


def test_nothing_found_leaves_langchains_refusal() -> None:
    graph, asked = _graph({})
    result = _result(graph.invoke({"messages": [HumanMessage("go")]}))
    assert result.status == "error" and "ghost" in str(result.content)
    assert asked == ["ghost"]


def test_a_held_tool_is_never_looked_up() -> None:
    model = ScriptedChatModel(replies=[tool_call("held", {}), "done"])
    asked: list[str] = []
    graph = create_agent(
        model, [held], middleware=[ToolFinderMiddleware(lambda n: asked.append(n) or ghost)]
    )
    assert _result(graph.invoke({"messages": [HumanMessage("go")]})).content == "held ran"
    assert asked == []
