"""Human approval before chosen tools run, on LangChain's HumanInTheLoopMiddleware.

The run pauses through LangGraph's ``interrupt`` (one pause per model turn, listing
the gated calls) and resumes with ``Command(resume={"decisions": [...]})``; ahora's
``Agent.resume`` builds that. Only approve and reject are offered. A rejected call is
reported to the model; if the model asks for the very same call again, it is not
asked about again: the loop guard answers it without running it.

One graph shape for every configuration: this middleware is in every graph the
server builds (and in any other whose recipe gates a tool), and which tools need
approval is a run-scoped value (``RunContext.approvals``), not a build-time one.
``RunContextMiddleware`` marks each reply with the names of its gated calls
(``GATED``), and the pause is decided from that mark. So a paused thread
reads the same (``get_state`` shows the interrupt) and resumes the same (the approved
call runs) whichever configuration rebuilds the graph, as the LangGraph server does
when a run chose its profile in its own config. With nothing gated it is a no-op.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from langchain.agents.middleware import AgentState, HumanInTheLoopMiddleware, InterruptOnConfig
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from ahora.middleware.loop_guard import earlier_call
from ahora.middleware.run_context import GATED, RUN_STARTED

__all__ = ["ApprovalMiddleware"]

"""Set ``tool.metadata = {"requires_approval": True}`` to gate a tool everywhere."""

_EDITED = "hitl_edited_tool_calls"  # HumanInTheLoopMiddleware's own state key


def _ask_unless_repeat(request: ToolCallRequest) -> bool:
    return not earlier_call(request)


_REVIEW: InterruptOnConfig = {
    "allowed_decisions": ["approve", "reject"],
    "when": _ask_unless_repeat,
}


def gated_calls(state: AgentState[Any]) -> list[str]:
    """The tool names the last reply's calls wait on, as marked when it was made."""
    for message in reversed(state.get("messages") or []):
        if isinstance(message, AIMessage):
            names = (message.response_metadata or {}).get(GATED)
            return [str(n) for n in names] if isinstance(names, list) and message.tool_calls else []
    return []


class ApprovalMiddleware(HumanInTheLoopMiddleware[Any, Any, Any]):
    """HumanInTheLoopMiddleware whose gated tools come from the reply's mark."""

    def __init__(self) -> None:
        super().__init__(interrupt_on={}, description_prefix="This tool call needs your approval")

    def after_model(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        names = gated_calls(state)
        if not names:
            # As LangChain's own: an earlier turn's edits must not reach this turn's calls.
            return {_EDITED: {}} if state.get(_EDITED) else None
        view = copy.copy(self)
        view.interrupt_on = {name: _REVIEW for name in names}
        update = HumanInTheLoopMiddleware.after_model(view, state, runtime)
        for message in (update or {}).get("messages", [])[:1]:
            # Decided: the run goes on from now, so a deadline counts from the resume.
            if isinstance(message, AIMessage) and RUN_STARTED in message.response_metadata:
                message.response_metadata = {**message.response_metadata, RUN_STARTED: time.time()}
        return update

    async def aafter_model(
        self, state: AgentState[Any], runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        return self.after_model(state, runtime)
