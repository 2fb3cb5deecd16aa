"""Tool output arrives as text, whatever shape the tool returned it in (MCP tools return
lists of content blocks), capped and fenced as data."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import InjectedToolCallId, tool

from ahora.testing import ScriptedChatModel, tool_call


@tool
def blocks(query: str, call_id: Annotated[str, InjectedToolCallId]) -> ToolMessage:
    """Return content blocks, as MCP tools do."""
    content: list[Any] = [
        {"type": "text", "text": "a text block"},
        {"type": "image", "url": "https://e.example/chart.png"},
        {"type": "text", "text": "another"},
    ]
    return ToolMessage(content=content, tool_call_id=call_id, name="blocks")


def test_content_blocks_become_one_text_in_order() -> None:
    from langchain.agents import create_agent as lc_create_agent

    from ahora.middleware import ToolOutputMiddleware

    model = ScriptedChatModel(replies=[tool_call("blocks", {"query": "q"}), "Done."])
    graph = lc_create_agent(model, [blocks], middleware=[ToolOutputMiddleware(1_000)])
    state = graph.invoke({"messages": [("user", "go")]})
    [message] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert isinstance(message.content, str)
    body = message.content.split(">", 1)[1].rsplit("<", 1)[0].strip()
    lines = body.splitlines()
    assert lines[0] == "a text block"
    assert "'type': 'image'" in lines[1] and "chart.png" in lines[1]  # shown, not dropped
    assert lines[2] == "another"
    assert 'tool="blocks"' in message.content


@tool
def anonymous(query: str, call_id: Annotated[str, InjectedToolCallId]) -> ToolMessage:
    """Return a message without a tool name."""
    return ToolMessage(content="result", tool_call_id=call_id)


def test_a_message_without_a_tool_name_is_still_fenced() -> None:
    from langchain.agents import create_agent as lc_create_agent

    from ahora.middleware import ToolOutputMiddleware

    model = ScriptedChatModel(replies=[tool_call("anonymous", {"query": "q"}), "Done."])
    graph = lc_create_agent(model, [anonymous], middleware=[ToolOutputMiddleware(1_000)])
    state = graph.invoke({"messages": [("user", "go")]})
    [message] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert str(message.content).startswith("<tool_output")
    assert "result" in str(message.content) and 'tool="None"' not in str(message.content)
