"""A hard deadline: the model call or tool in flight is cut when the time is up.

``BudgetMiddleware`` looks at the run's deadline (``RunContext.deadline``)
only before each model call, so a slow call overshoots it by its whole length. Here
every call runs against the clock:

* a tool call past the deadline is not started; one still running at the deadline is
  abandoned with an error result (``ToolTimeoutMiddleware`` runs it against the
  nearer of its own limit and the deadline: one thread hand-off a call, not two);
* a model call that may still call tools gets what is left; cut at the deadline, the
  run lands at once: one quick tool-less call ("answer from what you have") with
  ``GRACE`` seconds, then, if that does not answer either, a plain summary of this
  run's tool results with their sources, written here without the model;
* a tool-less call (the last one that ``BudgetMiddleware`` asks for at the deadline)
  gets what is left plus ``GRACE``, then the same summary.

So a run lands within the timeout plus ``GRACE`` (and a little bookkeeping), marked
stopped early. A synchronous call cannot be killed: it is abandoned in its (daemon)
thread and its reply, when it comes, is dropped. The async path cancels it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langgraph.types import Command

from ahora.context import context_of
from ahora.daemon_call import call_within
from ahora.messages import NOTHING_GATHERED, STOPPED_EARLY, content_text, this_run, unfence
from ahora.middleware.budget import landed
from ahora.middleware.tool_errors import failure_message

__all__ = [
    "GRACE",
    "REASON",
    "DeadlineMiddleware",
    "deadline_of",
    "stopped_at_deadline",
    "summary_of_results",
]

GRACE = 0.6
"""Seconds the last, tool-less call may run past the deadline before the summary."""

REASON = "the time limit for this answer has passed"

_NOTE = (
    "STOP: {reason}. You cannot call tools any more and have a second at most. Answer "
    "now, briefly, from the tool results above, in the user's language; say that you "
    "stopped early and what is missing."
)
_T = TypeVar("_T")


def deadline_of(request: object) -> float | None:
    """The run's deadline (``time.time()``), or None when it has no time limit."""
    context = context_of(request)
    return context.deadline if context is not None else None


def _unfenced(text: str) -> str:
    """A tool result without the fence ``ToolOutputMiddleware`` put around it."""
    return unfence(text.strip())


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_of_results(messages: Sequence[BaseMessage], reason: str = REASON) -> str:
    """A plain answer made of this run's tool results (no model). Each result is long
    enough to reach past its first figures (a forecast's tomorrow); the sources are
    not repeated here: they travel in ``Answer.sources``, which every view shows."""
    lines = [f"I stopped early ({reason}) before I could write a full answer."]
    results = [m for m in this_run(messages) if isinstance(m, ToolMessage)]
    if not results:
        lines.append(NOTHING_GATHERED)
        return "\n".join(lines)
    lines.append("What I gathered so far:")
    lines.append("")
    for m in results:
        lines.append(f"- {m.name or 'tool'}: {_clip(_unfenced(content_text(m.content)), 1200)}")
    return "\n".join(lines)


def _summary_response(request: ModelRequest[Any]) -> ModelResponse[Any]:
    message = AIMessage(
        content=summary_of_results(request.messages),
        response_metadata={STOPPED_EARLY: REASON},
    )
    return ModelResponse(result=[message])


def _final_request(request: ModelRequest[Any]) -> ModelRequest[Any]:
    note = _NOTE.format(reason=REASON)
    base = request.system_prompt or ""
    return request.override(
        tools=[], tool_choice=None, system_message=SystemMessage(content=f"{base}\n\n{note}")
    )


def _landed(response: ModelResponse[Any]) -> ModelResponse[Any]:
    return landed(response, REASON)


def stopped_at_deadline(request: ToolCallRequest) -> ToolMessage:
    """The result of a tool call the deadline did not let start, or cut short."""
    return failure_message(
        request,
        f"Error: the tool {request.tool_call['name']} was stopped: {REASON}.",
        "Answer now from what you have.",
    )


class DeadlineMiddleware(AgentMiddleware[Any, Any, Any]):
    """Cuts model and tool calls at the run's deadline; see the module docstring."""

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        deadline = deadline_of(request)
        if deadline is None:
            return handler(request)
        left = deadline - time.time()
        if not request.tools:  # the last call: what is left, plus the grace
            try:
                return call_within(left + GRACE, lambda: handler(request))
            except TimeoutError:
                return _summary_response(request)
        try:
            return call_within(left, lambda: handler(request))
        except TimeoutError:
            pass
        final = _final_request(request)
        try:
            return _landed(call_within(GRACE, lambda: handler(final)))
        except TimeoutError:
            return _summary_response(request)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        deadline = deadline_of(request)
        if deadline is None:
            return await handler(request)
        left = deadline - time.time()
        if not request.tools:
            try:
                async with asyncio.timeout(max(0.0, left + GRACE)):
                    return await handler(request)
            except TimeoutError:
                return _summary_response(request)
        try:
            async with asyncio.timeout(max(0.0, left)):
                return await handler(request)
        except TimeoutError:
            pass
        try:
            async with asyncio.timeout(GRACE):
                return _landed(await handler(_final_request(request)))
        except TimeoutError:
            return _summary_response(request)

    # The tool side only refuses to start a call past the deadline; the call in flight
    # is cut by ToolTimeoutMiddleware, against the nearer of its limit and this one.

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        deadline = deadline_of(request)
        if deadline is not None and deadline <= time.time():
            return stopped_at_deadline(request)
        return handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        deadline = deadline_of(request)
        if deadline is not None and deadline <= time.time():
            return stopped_at_deadline(request)
        return await handler(request)
