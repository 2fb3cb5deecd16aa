"""Never end a run with an empty answer.

A model that replies with neither text nor tool calls is asked once more; if it is
still silent, the reply says so in words instead of leaving the caller with "".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, SystemMessage

from ahora.messages import EMPTY_FALLBACK

_NUDGE = (
    "Your previous reply was empty. Reply now: either call a tool or answer the user "
    "from what you have, in the user's language."
)


def _is_empty(response: ModelResponse[Any]) -> bool:
    ai = [m for m in response.result if isinstance(m, AIMessage)]
    return bool(ai) and all(not m.tool_calls and not m.text.strip() for m in ai)


def _nudged(request: ModelRequest[Any]) -> ModelRequest[Any]:
    base = request.system_prompt or ""
    return request.override(system_message=SystemMessage(content=f"{base}\n\n{_NUDGE}"))


def _fallback(response: ModelResponse[Any]) -> ModelResponse[Any]:
    response.result = [
        m.model_copy(update={"content": EMPTY_FALLBACK}) if isinstance(m, AIMessage) else m
        for m in response.result
    ]
    return response


class EmptyReplyMiddleware(AgentMiddleware[Any, Any, Any]):
    """Retries an empty model reply once, then substitutes a plain explanation."""

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        response = handler(request)
        if _is_empty(response):
            response = handler(_nudged(request))
            if _is_empty(response):
                response = _fallback(response)
        return response

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        response = await handler(request)
        if _is_empty(response):
            response = await handler(_nudged(request))
            if _is_empty(response):
                response = _fallback(response)
        return response
