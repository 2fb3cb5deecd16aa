"""At most N tool calls run from one model reply; the rest are answered, not run.

One reply can ask for hundreds of calls (200 ``read_page`` calls made 200 fetches).
The first ``max_tool_calls_per_reply`` (a setting, default 16, read from the run's
settings per call) run; each later call gets an error ``ToolMessage`` that says why,
so every call still has its answer and the conversation stays valid.

LangChain's ``ToolCallLimitMiddleware`` does not fit: it counts calls per run and
per thread (its ``run_limit``/``thread_limit``), not per reply, so it would either
let one reply through whole or starve the later steps of a long run; and it works
in an ``after_model`` hook with state of its own, which adds a graph node, where
ahora's middleware only wrap the existing calls (``middleware/__init__.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.types import Command

from ahora.context import settings_of
from ahora.middleware.tool_errors import failure_message


def position_in_reply(request: ToolCallRequest) -> int | None:
    """Where this call stands in the model reply that asked for it (0 = first)."""
    call_id = request.tool_call.get("id")
    state = request.state if isinstance(request.state, dict) else {}
    for message in reversed(state.get("messages", [])):
        if isinstance(message, AIMessage):
            for i, call in enumerate(message.tool_calls):
                if call.get("id") == call_id:
                    return i
    return None


class ToolCallCapMiddleware(AgentMiddleware[Any, Any, Any]):
    """Runs the first ``cap`` tool calls of a reply and declines the others."""

    def __init__(self, cap: int | None = None) -> None:
        super().__init__()
        self.cap = cap
        """A fixed cap; None reads ``max_tool_calls_per_reply`` from the run's settings."""

    def _refusal(self, request: ToolCallRequest) -> ToolMessage | None:
        cap = self.cap if self.cap is not None else _setting(request)
        position = position_in_reply(request)
        if position is None or position < cap:
            return None
        text = (
            f"Error: not run: one reply may make at most {cap} tool calls, and this was "
            f"call {position + 1}."
        )
        return failure_message(
            request, text, "Use the results of the first calls, then ask for fewer at once."
        )

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return self._refusal(request) or handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return self._refusal(request) or await handler(request)


def _setting(request: ToolCallRequest) -> int:
    return settings_of(request.runtime).max_tool_calls_per_reply
