"""Run several wrap-only middleware as one, to keep the per-step overhead low.

LangChain's ``create_agent`` wraps every middleware's ``wrap_*`` hook in a LangSmith
``traceable`` span, which costs about 0.1 ms per hook per call even with tracing
off. ahora's behaviours are one small class each (one file each, for clarity), so
the loop would pay that about ten times a step. ``combine`` merges each contiguous
run of middleware that only use ``wrap_*`` hooks into one ``CombinedMiddleware``
that calls them in the same order: one traced hook per side instead of one per
behaviour. Middleware with other hooks, state or tools stay as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

__all__ = ["CombinedMiddleware", "combine"]

_DEFAULT_STATE = AgentMiddleware.__dict__["state_schema"]

_OTHER_HOOKS = (
    "before_agent",
    "abefore_agent",
    "before_model",
    "abefore_model",
    "after_model",
    "aafter_model",
    "after_agent",
    "aafter_agent",
)


def _overrides(m: AgentMiddleware[Any, Any, Any], hook: str) -> bool:
    return getattr(type(m), hook, None) is not getattr(AgentMiddleware, hook)


def wrap_only(m: AgentMiddleware[Any, Any, Any]) -> bool:
    """Whether ``m`` uses nothing but ``wrap_*`` hooks (no state, tools or node hooks)."""
    return (
        not any(_overrides(m, h) for h in _OTHER_HOOKS)
        and getattr(m, "state_schema", None) is _DEFAULT_STATE
        and not getattr(m, "tools", None)
    )


class CombinedMiddleware(AgentMiddleware[Any, Any, Any]):
    """``parts`` run as one middleware; the first part is the outermost, as in a list."""

    def __init__(self, parts: Sequence[AgentMiddleware[Any, Any, Any]]) -> None:
        super().__init__()
        self.parts = list(parts)
        self._model = [
            m
            for m in self.parts
            if _overrides(m, "wrap_model_call") or _overrides(m, "awrap_model_call")
        ]
        self._tool = [
            m
            for m in self.parts
            if _overrides(m, "wrap_tool_call") or _overrides(m, "awrap_tool_call")
        ]

    @property
    def name(self) -> str:
        return "ahora(" + ",".join(m.name for m in self.parts) + ")"

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        call = handler
        for m in reversed(self._model):
            call = _model_link(m, call)
        return call(request)

    # The two async hooks are plain functions that return the awaitable, on purpose:
    # LangChain wraps every hook in LangSmith's ``traceable``, whose wrapper for an
    # ``async def`` hops to a worker thread twice per call even with tracing off. With
    # fifty runs at once that queue on asyncio's small default executor (measured:
    # 50 concurrent ``aask`` runs took 1.8x one run's time with ``async def`` here).
    # LangChain awaits whatever the hook returns, so behaviour is the same.

    def awrap_model_call(  # type: ignore[override]
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> Awaitable[ModelResponse[Any]]:
        call = handler
        for m in reversed(self._model):
            call = _amodel_link(m, call)
        return call(request)

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        call = handler
        for m in reversed(self._tool):
            call = _tool_link(m, call)
        return call(request)

    def awrap_tool_call(  # type: ignore[override]
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> Awaitable[ToolMessage | Command[Any]]:
        call = handler
        for m in reversed(self._tool):
            call = _atool_link(m, call)
        return call(request)


# One small function per link, so each closure captures its own middleware and handler.


def _model_link(m: AgentMiddleware[Any, Any, Any], inner: Any) -> Any:
    return lambda request: m.wrap_model_call(request, inner)


def _amodel_link(m: AgentMiddleware[Any, Any, Any], inner: Any) -> Any:
    return lambda request: m.awrap_model_call(request, inner)


def _tool_link(m: AgentMiddleware[Any, Any, Any], inner: Any) -> Any:
    return lambda request: m.wrap_tool_call(request, inner)


def _atool_link(m: AgentMiddleware[Any, Any, Any], inner: Any) -> Any:
    return lambda request: m.awrap_tool_call(request, inner)


def combine(
    middleware: Sequence[AgentMiddleware[Any, Any, Any]],
) -> list[AgentMiddleware[Any, Any, Any]]:
    """``middleware`` with each contiguous run of wrap-only ones merged, order kept."""
    out: list[AgentMiddleware[Any, Any, Any]] = []
    run: list[AgentMiddleware[Any, Any, Any]] = []
    for m in [*middleware, None]:
        if m is not None and wrap_only(m):
            run.append(m)
            continue
        if len(run) > 1:
            out.append(CombinedMiddleware(run))
        else:
            out.extend(run)
        run = []
        if m is not None:
            out.append(m)
    return out
