"""A tool that raises becomes an error message the model can read, not a crashed run.

LangChain's ``create_agent`` lets exceptions raised inside a tool end the whole run
(its ``ToolErrorMiddleware`` is opt-in per exception). Here every exception is
reported, except LangGraph's control-flow signals (interrupts), which must propagate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.errors import GraphBubbleUp
from langgraph.types import Command

from ahora.errors import ToolFailure


def failure_message(request: ToolCallRequest, text: str, advice: str) -> ToolMessage:
    """A tool call that failed, as the model reads it; the artifact carries the error
    for front ends (the terminal shows which tool failed)."""
    return ToolMessage(
        content=f"{text} {advice}",
        tool_call_id=request.tool_call["id"] or "",
        name=request.tool_call["name"],
        status="error",
        artifact={"sources": [], "error": text},
    )


def error_message(request: ToolCallRequest, exc: Exception) -> ToolMessage:
    name = request.tool_call["name"]
    if isinstance(exc, ToolFailure):
        text = f"Error: {exc}"
    else:
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        kind = type(exc).__name__ + (f": {detail}" if detail else "")
        text = f"Error: the tool {name} failed ({kind})."
    return failure_message(request, text, "Try different arguments or another way to answer.")


class ToolErrorsMiddleware(AgentMiddleware[Any, Any, Any]):
    """Catches every tool exception (but interrupts) and reports it to the model."""

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        try:
            return handler(request)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return error_message(request, exc)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        try:
            return await handler(request)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return error_message(request, exc)
