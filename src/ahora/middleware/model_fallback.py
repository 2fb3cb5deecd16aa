"""Try the next model when one fails, but never past an authentication error.

Retries with back-off on 429 and 5xx (honouring Retry-After) are the provider
clients' own (``max_retries``); this middleware only decides what happens when a
model has failed after those: the next model in the list is asked instead. A
rejected API key is the user's to fix, so it stops the run at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse

from ahora.models import is_auth_error

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


class ModelFallbackMiddleware(AgentMiddleware[Any, Any, Any]):
    """On a model failure, retries the call with each fallback model in order."""

    def __init__(self, fallbacks: Sequence[BaseChatModel]) -> None:
        super().__init__()
        self.fallbacks = list(fallbacks)

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        try:
            return handler(request)
        except Exception as first:
            if is_auth_error(first):
                raise
            error: Exception = first
        for model in self.fallbacks:
            try:
                return handler(request.override(model=model))
            except Exception as exc:
                if is_auth_error(exc):
                    raise
                error = exc
        raise error

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        try:
            return await handler(request)
        except Exception as first:
            if is_auth_error(first):
                raise
            error: Exception = first
        for model in self.fallbacks:
            try:
                return await handler(request.override(model=model))
            except Exception as exc:
                if is_auth_error(exc):
                    raise
                error = exc
        raise error
