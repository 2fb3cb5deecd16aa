"""Tool calls whose arguments are not valid JSON go back to the model as errors.

LangChain puts such calls in ``AIMessage.invalid_tool_calls``; ``create_agent`` then
sees no tool calls and ends the run at once with an empty answer. Here they are moved
into ``tool_calls`` with a marker, and the tool side answers the marked call with an
error message instead of running the tool, so the model can retry with valid JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.types import Command

from ahora.messages import INVALID_ARGUMENTS


def _repair(message: AIMessage) -> AIMessage:
    if not message.invalid_tool_calls:
        return message
    moved = [
        {
            "name": call.get("name") or "unknown_tool",
            "args": {INVALID_ARGUMENTS: call.get("args") or "", "error": call.get("error") or ""},
            "id": call.get("id") or f"invalid_{i}",
            "type": "tool_call",
        }
        for i, call in enumerate(message.invalid_tool_calls)
    ]
    return message.model_copy(
        update={"tool_calls": [*message.tool_calls, *moved], "invalid_tool_calls": []}
    )


def _error_message(request: ToolCallRequest) -> ToolMessage | None:
    call = request.tool_call
    args = call.get("args") or {}
    if INVALID_ARGUMENTS not in args:
        return None
    raw = str(args[INVALID_ARGUMENTS])[:500]
    return ToolMessage(
        content=(
            f"Error: the arguments for {call['name']} were not valid JSON ({raw!r}). "
            "Call the tool again with a JSON object that matches its schema."
        ),
        tool_call_id=call["id"] or "",
        name=call["name"],
        status="error",
    )


class InvalidToolCallsMiddleware(AgentMiddleware[Any, Any, Any]):
    """Turns malformed tool calls into error tool messages; see the module docstring."""

    def _fix(self, response: ModelResponse[Any]) -> ModelResponse[Any]:
        response.result = [_repair(m) if isinstance(m, AIMessage) else m for m in response.result]
        return response

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        return self._fix(handler(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        return self._fix(await handler(request))

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return _error_message(request) or handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return _error_message(request) or await handler(request)
