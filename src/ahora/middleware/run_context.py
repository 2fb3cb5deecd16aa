"""Every model and tool call sees the run's ``RunContext``, whichever path started it.

``Agent`` passes ``context=RunContext(...)`` with each run, its deadline counted from
that moment. A graph from ``build_agent`` may also be driven directly
(``graph.invoke({"messages": ...})``, the LangGraph server) with no context, or with
the server's own: then the calls get the context the graph was built with (the
operator's settings, budget and approvals), its deadline counted from the run's
start. A client may only tighten the limits: ``max_steps``, ``max_tokens``,
``max_cost`` or ``timeout`` in a mapping passed as the run's context (as the server
passes a client's) or in its ``configurable`` lower them and never raise them.

The run's start needs no state of its own and no extra graph node: the first model
call of a run (no reply yet since the user's message) starts the clock, and every
reply of the run carries the start in its ``response_metadata`` (``RUN_STARTED``),
where later calls, the tools and a resumed run (stamped anew by the approval) read it.

So there is one channel: the middleware inside read ``request.runtime.context`` per
call and find a ``RunContext`` there, always.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command

from ahora.context import RunContext
from ahora.errors import InvalidSettings

__all__ = ["GATED", "RUN_STARTED", "RunContextMiddleware", "client_limits", "run_started"]

GATED = "ahora_gated"
"""``response_metadata`` key of a reply: the names of its calls that await approval."""

RUN_STARTED = "ahora_run_started"
"""``response_metadata`` key of a reply: the ``time.time()`` its run started (or last
resumed), for a run driven without a context of its own."""

# Keys a client may send to lower the limits.
_CLIENT_LIMITS = frozenset({"max_steps", "max_tokens", "max_cost", "timeout"})


def client_limits(context: object) -> tuple[tuple[str, Any], ...]:
    """The limits a caller asked for, in the run's context (when it is a mapping, as
    the server passes a client's) or its ``configurable``; the lower of the two."""
    from langgraph.config import get_config

    sources: list[Mapping[str, Any]] = [context] if isinstance(context, Mapping) else []
    with contextlib.suppress(RuntimeError):  # outside a graph run: no config
        sources.append(get_config().get("configurable") or {})
    wishes: dict[str, Any] = {}
    for source in sources:
        if _CLIENT_LIMITS.isdisjoint(source):  # the usual case, decided in C
            continue
        for key in _CLIENT_LIMITS:
            value = source.get(key)
            if value is None:
                continue
            if key in wishes:
                with contextlib.suppress(TypeError):  # not a number: tightened says so
                    value = min(wishes[key], value)
            wishes[key] = value
    return tuple(sorted(wishes.items()))


def run_started(messages: Sequence[BaseMessage]) -> float | None:
    """When the current run started, from the latest stamped reply since the user's
    last message (None on the run's first call)."""
    for i in range(len(messages) - 1, -1, -1):  # from the end: the stamp is near it
        message = messages[i]
        if isinstance(message, HumanMessage):
            return None  # this run's start, and no stamped reply since
        if isinstance(message, AIMessage):
            stamp = (message.response_metadata or {}).get(RUN_STARTED)
            if isinstance(stamp, int | float) and not isinstance(stamp, bool):
                return float(stamp)
    return None


class RunContextMiddleware(AgentMiddleware[Any, Any, Any]):
    """Puts a ``RunContext`` on every model and tool request (see the module docstring),
    and marks each reply's tool calls with the tools this run gates, so an approval
    pause survives a resume by a graph built from another configuration.

    ``gates`` says whether the graph has the approval step: a run whose context asks
    for approvals on a graph without it is refused before any model call.
    """

    def __init__(self, default: RunContext, *, gates: bool = True) -> None:
        super().__init__()
        self.default = default
        self.gates = gates
        self._derived: tuple[tuple[Any, Any], RunContext] | None = None

    def context(self, runtime_context: object, started: float | None) -> RunContext:
        """The run's context: the one passed with the run, or the derived default."""
        if isinstance(runtime_context, RunContext):
            return runtime_context
        wishes = client_limits(runtime_context)
        key = (wishes, started)
        cached = self._derived
        if cached is not None and cached[0] == key:
            return cached[1]
        derived = self.default.started(started)
        if wishes:
            derived = derived.tightened(dict(wishes))  # InvalidSettings names a bad wish
        self._derived = (key, derived)
        return derived

    # -- model side -------------------------------------------------------------------

    def _model_request(self, request: ModelRequest[Any]) -> tuple[ModelRequest[Any], float | None]:
        """The request with the run's context, and the run's start when it was derived."""
        runtime = request.runtime
        current = getattr(runtime, "context", None)
        if isinstance(current, RunContext):
            context, started = current, None
        else:
            started = run_started(request.messages) or time.time()
            context = self.context(current, started)
            request = replace(request, runtime=replace(runtime, context=context))
        if context.approvals and not self.gates:
            raise InvalidSettings(
                "this run asks for approvals ("
                + ", ".join(sorted(context.approvals))
                + ") but its graph was built without them: build it with approvals="
            )
        return request, started

    @staticmethod
    def _mark(
        request: ModelRequest[Any], response: ModelResponse[Any], started: float | None
    ) -> ModelResponse[Any]:
        context = request.runtime.context
        gated = context.approvals if isinstance(context, RunContext) else frozenset()
        if not gated and started is None:
            return response
        for message in response.result:
            if not isinstance(message, AIMessage):
                continue
            marks: dict[str, Any] = {}
            if started is not None:
                marks[RUN_STARTED] = started
            names = sorted({c["name"] for c in message.tool_calls} & gated)
            if names:
                marks[GATED] = names
            if marks:
                message.response_metadata = {**message.response_metadata, **marks}
        return response

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        request, started = self._model_request(request)
        return self._mark(request, handler(request), started)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        request, started = self._model_request(request)
        return self._mark(request, await handler(request), started)

    # -- tool side --------------------------------------------------------------------

    def _tool_request(self, request: ToolCallRequest) -> ToolCallRequest:
        runtime: ToolRuntime[Any, Any] = request.runtime
        if not isinstance(runtime, ToolRuntime) or isinstance(runtime.context, RunContext):
            return request
        messages = (request.state or {}).get("messages") or []
        context = self.context(runtime.context, run_started(messages))
        return replace(request, runtime=replace(runtime, context=context))

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return handler(self._tool_request(request))

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return await handler(self._tool_request(request))
