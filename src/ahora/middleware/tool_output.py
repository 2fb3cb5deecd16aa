"""One place that caps and fences every tool's output, plugins and MCP tools included.

Capping keeps the head and the tail with a note saying how much was cut. Fencing
wraps the text in ``<tool_output ...>`` tags that the system prompt declares to be
data, not instructions; a closing tag inside the output is defused so a hostile page
cannot end the fence early.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from ahora.context import context_of
from ahora.messages import content_text, fence


def cap(text: str, limit: int) -> str:
    """Keep the head and tail of ``text`` within about ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = int(limit * 0.8)
    tail = max(limit - head, 0)
    cut = len(text) - head - tail
    note = (
        f"\n\n[... {cut:,} characters cut by ahora's output cap ({len(text):,} in all). "
        "Ask the tool for a narrower result, or page on where it offers that "
        "(read_page takes start=...) ...]\n\n"
    )
    return text[:head] + note + (text[-tail:] if tail else "")


class ToolOutputMiddleware(AgentMiddleware[Any, Any, Any]):
    """Caps each tool message at the run's ``settings.tool_output_chars`` (``limit``
    without a run context) and fences it as data."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def _limit(self, request: ToolCallRequest) -> int:
        context = context_of(request.runtime)
        return context.settings.tool_output_chars if context is not None else self.limit

    def _shape(self, result: ToolMessage | Command[Any], limit: int) -> ToolMessage | Command[Any]:
        if not isinstance(result, ToolMessage):
            return result
        text = cap(content_text(result.content), limit)
        return result.model_copy(update={"content": fence(text, result.name or "tool")})

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return self._shape(handler(request), self._limit(request))

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return self._shape(await handler(request), self._limit(request))
