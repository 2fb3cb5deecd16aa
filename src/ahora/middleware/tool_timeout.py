"""Each tool call gets its own time limit; a tool that hangs is reported as timed out.

The sync path runs the tool in a worker thread and stops waiting at the limit (a
thread cannot be killed, so a truly stuck tool keeps its thread until it returns;
the run goes on without it). The async path uses ``asyncio.timeout``, which unlike
``wait_for`` (on Python 3.11) does not start a task per call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from ahora.middleware.tool_errors import failure_message

_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="ahora-tool")


def _timed_out(request: ToolCallRequest, seconds: float) -> ToolMessage:
    text = f"Error: the tool {request.tool_call['name']} timed out after {seconds:g} s."
    return failure_message(request, text, "Try again with simpler arguments, or answer without it.")


class ToolTimeoutMiddleware(AgentMiddleware[Any, Any, Any]):
    """Gives every tool call at most ``seconds`` to finish."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        ctx = contextvars.copy_context()  # keeps LangGraph's run config visible to the tool
        future = _POOL.submit(ctx.run, handler, request)
        try:
            return future.result(timeout=self.seconds)
        except concurrent.futures.TimeoutError:
            return _timed_out(request, self.seconds)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        try:
            async with asyncio.timeout(self.seconds):
                return await handler(request)
        except TimeoutError:
            return _timed_out(request, self.seconds)
