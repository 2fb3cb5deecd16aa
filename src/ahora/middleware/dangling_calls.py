"""Tool calls left unanswered by a run that died are answered before the model sees them.

A process killed while a tool runs leaves the thread's last checkpoint ending in an
``AIMessage`` whose tool calls have no ``ToolMessage``. Continuing the thread sends
that history to the model, and OpenAI-style APIs refuse it (every assistant tool
call must be followed by its result). Here each such call gets a note, in the model
request only, saying it never finished; the saved thread keeps what really happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage

from ahora.messages import NOT_FINISHED, answered_calls


def answer_dangling(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """``messages`` with a note after every tool call that has no result in its own turn
    (``answered_calls``: a later turn reusing the id does not answer it)."""
    answered = answered_calls(messages)
    out: list[AnyMessage] = []
    missing: list[ToolMessage] = []
    for i, message in enumerate(messages):
        if missing and not isinstance(message, ToolMessage):
            out.extend(missing)
            missing = []
        out.append(message)
        if isinstance(message, AIMessage):
            missing = [
                ToolMessage(
                    content=NOT_FINISHED,
                    tool_call_id=call["id"] or "",
                    name=call["name"],
                    status="error",
                )
                for call in message.tool_calls
                if str(call["id"]) not in answered[i]
            ]
    return out + missing


def _patched(request: ModelRequest[Any]) -> ModelRequest[Any]:
    fixed = answer_dangling(request.messages)
    return request if len(fixed) == len(request.messages) else request.override(messages=fixed)


class DanglingToolCallsMiddleware(AgentMiddleware[Any, Any, Any]):
    """Answers unanswered tool calls in the model request; see the module docstring."""

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        return handler(_patched(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        return await handler(_patched(request))
