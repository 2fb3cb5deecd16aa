"""No lone surrogate enters the conversation: model replies and tool results are
scrubbed as they arrive (``safe_text.no_surrogates``: U+FFFD in its place).

A model (or a page, a search hit, an MCP server) can hand over ``\\ud800``, a code
point UTF-8 cannot encode. Kept, it ends the turn later and far away: the thread
index's SQLite write raises ``UnicodeEncodeError`` and the thread stays listed with
no turns; a terminal or ``--json`` write fails the same way. Scrubbing where the text
enters the state keeps every reader (index, export, checkpoints, views) safe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.types import Command

from ahora.safe_text import no_surrogates


def scrub(value: Any) -> Any:
    """``value`` with lone surrogates replaced in every string inside it (lists, tuples
    and dicts walked; anything else returned as it is)."""
    if isinstance(value, str):
        return no_surrogates(value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub(v) for v in value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value


def _dirty(value: Any) -> bool:
    """Whether ``scrub`` would change ``value``: a walk that copies nothing, and skips
    an ASCII string at once (``isascii`` is a flag lookup, a surrogate is not ASCII)."""
    if isinstance(value, str):
        return not value.isascii() and no_surrogates(value) is not value
    if isinstance(value, list | tuple):
        return any(map(_dirty, value))
    if isinstance(value, dict):
        return any(map(_dirty, value)) or any(map(_dirty, value.values()))
    return False


def _needs_scrub(message: BaseMessage) -> bool:
    if _dirty(message.content):
        return True
    if isinstance(message, AIMessage):
        return _dirty(message.tool_calls) or _dirty(message.invalid_tool_calls)
    return isinstance(message, ToolMessage) and _dirty(message.artifact)


def scrub_message(message: BaseMessage) -> BaseMessage:
    """A copy of ``message`` with its text, tool calls and artifact scrubbed (the
    message itself when nothing in it needs it: the common case, checked first)."""
    if not _needs_scrub(message):
        return message
    update: dict[str, Any] = {"content": scrub(message.content)}
    if isinstance(message, AIMessage):
        update["tool_calls"] = scrub(list(message.tool_calls))
        update["invalid_tool_calls"] = scrub(list(message.invalid_tool_calls))
    if isinstance(message, ToolMessage):
        update["artifact"] = scrub(message.artifact)
    scrubbed = {k: v for k, v in update.items() if v != getattr(message, k)}
    return message.model_copy(update=scrubbed) if scrubbed else message


def _reply(response: ModelResponse[Any]) -> ModelResponse[Any]:
    response.result = [scrub_message(m) for m in response.result]
    return response


def _result(result: ToolMessage | Command[Any]) -> ToolMessage | Command[Any]:
    return scrub_message(result) if isinstance(result, ToolMessage) else result  # type: ignore[return-value]


class LoneSurrogatesMiddleware(AgentMiddleware[Any, Any, Any]):
    """Replaces lone surrogates in model replies and tool results with U+FFFD."""

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        return _reply(handler(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        return _reply(await handler(request))

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return _result(handler(request))

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return _result(await handler(request))
