"""Every model and tool call sees the run's ``RunContext``, whichever path started it.

``Agent`` passes ``context=RunContext(...)`` with each run, its deadline counted from
that moment. A graph from ``build_agent`` may also be driven directly
(``graph.invoke({"messages": ...})``, the LangGraph server) with no context, or with
the server's own: then the calls get the context the graph was built with (the
operator's settings, budget and approvals), its deadline counted from the run's
start, which ``RunStartMiddleware`` stamps into the state when the run begins (and
again when a paused run resumes). A client of the server may only tighten the
limits: a mapping passed as the run's context (``{"max_steps": 3, "timeout": 5}``)
lowers them and never raises them.

So there is one channel: the middleware inside read ``request.runtime.context``
per call and find a ``RunContext`` there, always.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Annotated, Any, NotRequired

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain.agents.middleware.types import PrivateStateAttr, ToolCallRequest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.prebuilt import ToolRuntime
from langgraph.runtime import Runtime
from langgraph.types import Command

from ahora.context import RunContext

__all__ = ["GATED", "RUN_STARTED", "RunContextMiddleware", "RunStartMiddleware"]

GATED = "ahora_gated"
"""``response_metadata`` key of a reply: the names of its calls that await approval."""

RUN_STARTED = "ahora_run_started"
"""State key: the ``time.time()`` the current run started (or last resumed)."""

# Keys a client may send in the run's context to lower the operator's limits.
_CLIENT_LIMITS = frozenset({"max_steps", "max_tokens", "max_cost", "timeout"})


class RunStartState(AgentState[Any]):
    ahora_run_started: NotRequired[Annotated[float, PrivateStateAttr]]


class RunStartMiddleware(AgentMiddleware[RunStartState, Any, Any]):
    """Stamps the run's start into the state: a graph node that runs once per run."""

    state_schema = RunStartState

    def before_agent(self, state: RunStartState, runtime: Runtime[Any]) -> dict[str, Any]:
        return {RUN_STARTED: time.time()}

    async def abefore_agent(self, state: RunStartState, runtime: Runtime[Any]) -> dict[str, Any]:
        return {RUN_STARTED: time.time()}


def client_limits(context: object) -> tuple[tuple[str, Any], ...]:
    """The limits a caller asked for, in the run's context (when it is a mapping, as
    the server passes a client's) or its ``configurable``; the lower of the two."""
    from langgraph.config import get_config

    sources: list[Mapping[str, Any]] = [context] if isinstance(context, Mapping) else []
    with contextlib.suppress(RuntimeError):  # outside a graph run: no config
        sources.append(get_config().get("configurable") or {})
    wishes: dict[str, Any] = {}
    for source in sources:
        for key in _CLIENT_LIMITS:
            value = source.get(key)
            if value is None:
                continue
            if key in wishes:
                with contextlib.suppress(TypeError):  # not a number: tightened says so
                    value = min(wishes[key], value)
            wishes[key] = value
    return tuple(sorted(wishes.items()))


class RunContextMiddleware(AgentMiddleware[Any, Any, Any]):
    """Puts a ``RunContext`` on every model and tool request (see the module docstring),
    and marks each reply's tool calls with the tools this run gates, so an approval
    pause survives a resume by a graph built from another configuration."""

    def __init__(self, default: RunContext) -> None:
        super().__init__()
        self.default = default
        self._derived: tuple[tuple[Any, Any], RunContext] | None = None

    def context(self, runtime_context: object, state: Mapping[str, Any] | None) -> RunContext:
        """The run's context: the one passed with the run, or the derived default."""
        if isinstance(runtime_context, RunContext):
            return runtime_context
        started = (state or {}).get(RUN_STARTED)
        wishes = client_limits(runtime_context)
        key = (wishes, started)
        cached = self._derived
        if cached is not None and cached[0] == key:
            return cached[1]
        derived = self.default.started(started) if started is not None else self.default
        if wishes:
            derived = derived.tightened(dict(wishes))  # InvalidSettings names a bad wish
        self._derived = (key, derived)
        return derived

    # -- model side -------------------------------------------------------------------

    def _model_request(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        runtime = request.runtime
        current = getattr(runtime, "context", None)
        if isinstance(current, RunContext):
            return request
        context = self.context(current, request.state)
        return replace(request, runtime=replace(runtime, context=context))

    @staticmethod
    def _mark(request: ModelRequest[Any], response: ModelResponse[Any]) -> ModelResponse[Any]:
        context = request.runtime.context
        gated = context.approvals if isinstance(context, RunContext) else frozenset()
        if not gated:
            return response
        for message in response.result:
            if isinstance(message, AIMessage) and message.tool_calls:
                names = sorted({c["name"] for c in message.tool_calls} & gated)
                if names:
                    message.response_metadata = {**message.response_metadata, GATED: names}
        return response

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        request = self._model_request(request)
        return self._mark(request, handler(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        request = self._model_request(request)
        return self._mark(request, await handler(request))

    # -- tool side --------------------------------------------------------------------

    def _tool_request(self, request: ToolCallRequest) -> ToolCallRequest:
        runtime: ToolRuntime[Any, Any] = request.runtime
        if not isinstance(runtime, ToolRuntime) or isinstance(runtime.context, RunContext):
            return request
        context = self.context(runtime.context, request.state)
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
