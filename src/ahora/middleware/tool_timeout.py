"""Each tool call gets its own time limit; a tool that hangs is reported as timed out.

One clock per call: the nearer of the tool's limit and the run's deadline
(``RunContext.deadline``). When the deadline is the nearer, a call still running then
is reported as stopped by the time limit, as ``DeadlineMiddleware`` would; the two
used to run a clock each, two thread hand-offs a call on the sync path.

The sync path runs the tool with ``call_within`` and stops waiting at the limit (a
thread cannot be killed, so a truly stuck tool keeps its daemon thread until it
returns; the run goes on without it, and the process can still exit).
The async path uses ``asyncio.timeout``, which unlike ``wait_for`` (on Python 3.11)
does not start a task per call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from ahora.context import context_of
from ahora.daemon_call import call_within
from ahora.messages import SUBAGENT
from ahora.middleware.deadline import deadline_of, stopped_at_deadline
from ahora.middleware.tool_errors import failure_message


def _timed_out(request: ToolCallRequest, seconds: float) -> ToolMessage:
    text = f"Error: the tool {request.tool_call['name']} timed out after {seconds:g} s."
    return failure_message(request, text, "Try again with simpler arguments, or answer without it.")


class ToolTimeoutMiddleware(AgentMiddleware[Any, Any, Any]):
    """Gives every tool call at most the run's ``settings.tool_timeout`` (``seconds``
    without a run context), and no time past the run's deadline, to finish."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def _seconds(self, request: ToolCallRequest) -> float | None:
        """The tool's own limit; None for another agent called as a tool, which its
        share of the run's budget and deadline bound instead (``ahora.subagents``)."""
        if request.tool is not None and (request.tool.metadata or {}).get(SUBAGENT):
            return None
        context = context_of(request.runtime)
        return context.settings.tool_timeout if context is not None else self.seconds

    def _clock(self, request: ToolCallRequest) -> tuple[float | None, bool]:
        """Seconds this call may run (None: no limit), and whether the deadline is the
        nearer limit."""
        seconds = self._seconds(request)
        deadline = deadline_of(request)
        if deadline is None:
            return seconds, False
        left = max(0.0, deadline - time.time())
        if seconds is None or left < seconds:
            return left, True
        return seconds, False

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        seconds, at_deadline = self._clock(request)
        if seconds is None:
            return handler(request)
        if at_deadline and seconds <= 0:  # passed since DeadlineMiddleware looked: not started
            return stopped_at_deadline(request)
        try:
            return call_within(seconds, lambda: handler(request), name="ahora-tool")
        except TimeoutError:
            return stopped_at_deadline(request) if at_deadline else _timed_out(request, seconds)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        seconds, at_deadline = self._clock(request)
        if seconds is None:
            return await handler(request)
        if at_deadline and seconds <= 0:  # passed since DeadlineMiddleware looked: not started
            return stopped_at_deadline(request)
        try:
            async with asyncio.timeout(seconds):
                return await handler(request)
        except TimeoutError:
            return stopped_at_deadline(request) if at_deadline else _timed_out(request, seconds)
