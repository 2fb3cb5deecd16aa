"""Do not run the same tool with the same arguments twice in one run.

Models stuck in a loop repeat a call whose result they already have. The repeat is
answered with a note pointing at the earlier result instead of running the tool
again; the budget middleware then lands the run if steps keep adding nothing new.
This also stops a rejected call (see approvals) from being asked about again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.types import Command

from ahora.middleware.budget import this_run


def call_key(name: str, args: Any) -> str:
    return name + json.dumps(args, sort_keys=True, default=str)


def earlier_call(request: ToolCallRequest) -> bool:
    """Whether this run already made this exact call (by another tool call id)."""
    call = request.tool_call
    key = call_key(call["name"], call.get("args"))
    messages = (request.state or {}).get("messages", []) if isinstance(request.state, dict) else []
    for m in this_run(messages):
        if isinstance(m, AIMessage):
            for other in m.tool_calls:
                if (
                    other.get("id") != call.get("id")
                    and call_key(other["name"], other.get("args")) == key
                ):
                    return True
    return False


def _repeat_message(request: ToolCallRequest) -> ToolMessage:
    call = request.tool_call
    return ToolMessage(
        content=(
            f"Not run: {call['name']} was already requested with these same arguments in this "
            "turn; its result (or why it was declined) is above. Use that, try different "
            "arguments, or answer now."
        ),
        tool_call_id=call["id"] or "",
        name=call["name"],
        status="error",
    )


class LoopGuardMiddleware(AgentMiddleware[Any, Any, Any]):
    """Answers a repeated identical tool call with a note instead of running it."""

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return _repeat_message(request) if earlier_call(request) else handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return _repeat_message(request) if earlier_call(request) else await handler(request)
