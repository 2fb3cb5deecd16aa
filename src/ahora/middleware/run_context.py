"""Give every tool call the agent's run context when the caller passed none.

``Agent`` passes ``context=RunContext(...)`` on every run. A graph from
``create_agent`` may also be driven directly (``graph.invoke({"messages": ...})``,
the LangGraph server), without a context: then the tools get the context the graph
was built with, so they still see the agent's settings rather than the environment's.
A context passed with the run wins, so one graph can serve callers with their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command

from ahora.context import RunContext


class RunContextMiddleware(AgentMiddleware[Any, Any, Any]):
    """Fills in ``context`` as the tool call's runtime context when it has none."""

    def __init__(self, context: RunContext) -> None:
        super().__init__()
        self.context = context

    def _request(self, request: ToolCallRequest) -> ToolCallRequest:
        runtime: ToolRuntime[Any, Any] = request.runtime
        if isinstance(runtime, ToolRuntime) and not isinstance(runtime.context, RunContext):
            return replace(request, runtime=replace(runtime, context=self.context))
        return request

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return handler(self._request(request))

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return await handler(self._request(request))
