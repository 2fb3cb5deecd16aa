"""A call to a tool this graph does not hold runs with the tool ``find`` gives for it.

The LangGraph server builds a graph per choice of profile and tools, all of one shape
(``ahora.server``). A run that chose its profile in its own config can pause with a
call to one of that profile's tools waiting for approval; a resume sent without that
config meets the call on another profile's graph, which may not hold the tool (another
agent called as a tool, ``agent:worker``, is in one profile's graph only). LangGraph's
tool node hands such a call to its wrappers with no tool (``request.tool is None``)
before refusing it: this wrapper, outermost, finds the tool by name, so the approved
call runs as it would have on the graph that made it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest

if TYPE_CHECKING:
    from langchain_core.messages import ToolMessage
    from langchain_core.tools import BaseTool
    from langgraph.types import Command

ToolFinder = Callable[[str], "BaseTool | None"]


class ToolFinderMiddleware(AgentMiddleware[Any, Any, Any]):
    """Fills in the tool of a call the graph does not hold, when ``find`` knows it."""

    def __init__(self, find: ToolFinder) -> None:
        super().__init__()
        self.find = find

    def _found(self, request: ToolCallRequest) -> ToolCallRequest:
        if request.tool is not None:
            return request
        tool = self.find(request.tool_call["name"])
        return request if tool is None else request.override(tool=tool)

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return handler(self._found(request))

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        if request.tool is None:  # finding reads profiles and builds: off the event loop
            request = await asyncio.to_thread(self._found, request)
        return await handler(request)
