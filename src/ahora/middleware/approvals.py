"""Human approval before chosen tools run, on LangChain's HumanInTheLoopMiddleware.

The run pauses through LangGraph's ``interrupt`` (one pause per model turn, listing
the gated calls) and resumes with ``Command(resume={"decisions": [...]})``; ahora's
``Agent.resume`` builds that. Only approve and reject are offered. A rejected call is
reported to the model; if the model asks for the very same call again, it is not
asked about again: the loop guard answers it without running it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain.agents.middleware import HumanInTheLoopMiddleware, InterruptOnConfig
from langchain.agents.middleware.types import ToolCallRequest

from ahora.middleware.loop_guard import earlier_call

"""Set ``tool.metadata = {"requires_approval": True}`` to gate a tool everywhere."""


def _ask_unless_repeat(request: ToolCallRequest) -> bool:
    return not earlier_call(request)


def approval_middleware(tool_names: Sequence[str]) -> HumanInTheLoopMiddleware[Any, Any, Any]:
    config: InterruptOnConfig = {
        "allowed_decisions": ["approve", "reject"],
        "when": _ask_unless_repeat,
    }
    return HumanInTheLoopMiddleware(
        interrupt_on={name: config for name in tool_names},
        description_prefix="This tool call needs your approval",
    )
