"""Run several wrap-only middleware as one, to keep the per-step overhead low.

LangChain's ``create_agent`` wraps every middleware's ``wrap_*`` hook in a LangSmith
``traceable`` span, which costs about 0.1 ms per hook per call even with tracing
off. ahora's behaviours are one small class each (one file each, for clarity), so
the loop would pay that about ten times a step. ``combine`` merges each contiguous
run of middleware that only use ``wrap_*`` hooks into one ``CombinedMiddleware``
that calls them in the same order: one traced hook per side instead of one per
behaviour. Middleware with other hooks or tools stay as they are.

A part may keep state of its own (a ``state_schema``, written by returning an
``ExtendedModelResponse`` with a ``Command``, as ``OfferedToolsMiddleware`` does): the
combined middleware carries its schema, and, as LangChain does between hooks, hands
the parts outside it the plain ``ModelResponse`` and returns the command with the
whole call's response. At most one such part per combined middleware (``combine``
starts a new one for the next), so their schemas never need merging.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ExtendedModelResponse, ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

__all__ = ["CombinedMiddleware", "combine"]

_DEFAULT_STATE = AgentMiddleware.__dict__["state_schema"]
_F = TypeVar("_F", bound=Callable[..., Any])


def _signed(hook: _F) -> _F:
    """``hook`` with its signature computed once. LangSmith's ``traceable``, which
    LangChain wraps every hook in, calls ``inspect.signature(hook)`` on every call (to
    see whether it takes ``run_tree``); found on the function, that is a lookup instead
    of a walk over its parameters: about 10 us less a hook a call, two hooks a step."""
    hook.__signature__ = inspect.signature(hook)  # type: ignore[attr-defined]
    return hook


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
    """Whether ``m`` uses nothing but ``wrap_*`` hooks (no tools or node hooks; state of
    its own is allowed, see the module docstring)."""
    return not any(_overrides(m, h) for h in _OTHER_HOOKS) and not getattr(m, "tools", None)


def _stateful(m: AgentMiddleware[Any, Any, Any]) -> bool:
    return getattr(m, "state_schema", _DEFAULT_STATE) is not _DEFAULT_STATE


class CombinedMiddleware(AgentMiddleware[Any, Any, Any]):
    """``parts`` run as one middleware; the first part is the outermost, as in a list."""

    def __init__(self, parts: Sequence[AgentMiddleware[Any, Any, Any]]) -> None:
        super().__init__()
        self.parts = list(parts)
        stateful = [m for m in self.parts if _stateful(m)]
        if len(stateful) > 1:
            raise ValueError(
                "at most one part with state of its own: " + ", ".join(m.name for m in stateful)
            )
        # The graph's state gets the stateful part's channels through this middleware.
        self.state_schema = stateful[0].state_schema if stateful else _DEFAULT_STATE
        self._model = [
            (m, _stateful(m))
            for m in self.parts
            if _overrides(m, "wrap_model_call") or _overrides(m, "awrap_model_call")
        ]
        self._writes = any(writes for _, writes in self._model)
        self._tool = [
            m
            for m in self.parts
            if _overrides(m, "wrap_tool_call") or _overrides(m, "awrap_tool_call")
        ]

    @property
    def name(self) -> str:
        return "ahora(" + ",".join(m.name for m in self.parts) + ")"

    @_signed
    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any] | ExtendedModelResponse[Any]:
        call = handler
        if not self._writes:
            for m, _ in reversed(self._model):
                call = _model_link(m, call)
            return call(request)
        sent: list[Command[Any]] = []  # the stateful part's command, from its latest call
        for m, writes in reversed(self._model):
            call = _writing_link(m, call, sent) if writes else _model_link(m, call)
        return _with_command(call(request), sent)  # type: ignore[no-any-return]

    # The two async hooks are plain functions that return the awaitable, on purpose:
    # LangChain wraps every hook in LangSmith's ``traceable``, whose wrapper for an
    # ``async def`` hops to a worker thread twice per call even with tracing off. With
    # fifty runs at once that queue on asyncio's small default executor (measured:
    # 50 concurrent ``aask`` runs took 1.8x one run's time with ``async def`` here).
    # LangChain awaits whatever the hook returns, so behaviour is the same.

    @_signed
    def awrap_model_call(  # type: ignore[override]
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> Awaitable[ModelResponse[Any] | ExtendedModelResponse[Any]]:
        call = handler
        if not self._writes:
            for m, _ in reversed(self._model):
                call = _amodel_link(m, call)
            return call(request)
        sent: list[Command[Any]] = []
        for m, writes in reversed(self._model):
            call = _awriting_link(m, call, sent) if writes else _amodel_link(m, call)
        return _awith_command(call(request), sent)

    @_signed
    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        call = handler
        for m in reversed(self._tool):
            call = _tool_link(m, call)
        return call(request)

    @_signed
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


def _writing_link(m: AgentMiddleware[Any, Any, Any], inner: Any, sent: list[Command[Any]]) -> Any:
    """A stateful part's link: its command is kept aside (the latest call's replaces an
    earlier one's, as when an outer part retries) and the outer parts get the response."""

    def link(request: ModelRequest[Any]) -> Any:
        return _command_aside(m.wrap_model_call(request, inner), sent)

    return link


def _awriting_link(m: AgentMiddleware[Any, Any, Any], inner: Any, sent: list[Command[Any]]) -> Any:
    async def link(request: ModelRequest[Any]) -> Any:
        return _command_aside(await m.awrap_model_call(request, inner), sent)

    return link


def _command_aside(result: Any, sent: list[Command[Any]]) -> Any:
    sent.clear()
    if not isinstance(result, ExtendedModelResponse):
        return result
    if result.command is not None:
        sent.append(result.command)
    return result.model_response


def _with_command(response: Any, sent: list[Command[Any]]) -> Any:
    if not sent:
        return response
    return ExtendedModelResponse(model_response=response, command=sent[0])


async def _awith_command(response: Awaitable[Any], sent: list[Command[Any]]) -> Any:
    return _with_command(await response, sent)


def _tool_link(m: AgentMiddleware[Any, Any, Any], inner: Any) -> Any:
    return lambda request: m.wrap_tool_call(request, inner)


def _atool_link(m: AgentMiddleware[Any, Any, Any], inner: Any) -> Any:
    return lambda request: m.awrap_tool_call(request, inner)


def combine(
    middleware: Sequence[AgentMiddleware[Any, Any, Any]],
) -> list[AgentMiddleware[Any, Any, Any]]:
    """``middleware`` with each contiguous run of wrap-only ones merged, order kept (a
    second part with state of its own starts a new run)."""
    out: list[AgentMiddleware[Any, Any, Any]] = []
    run: list[AgentMiddleware[Any, Any, Any]] = []
    for m in [*middleware, None]:
        if m is not None and wrap_only(m) and not (_stateful(m) and any(map(_stateful, run))):
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
