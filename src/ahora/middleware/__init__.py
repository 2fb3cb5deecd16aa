"""Behaviours around the model and tool calls, one small file each.

All are LangChain v1 ``AgentMiddleware`` subclasses that only use the ``wrap_*``
hooks: those compose inside the existing model and tool nodes, so they add no graph
nodes (and no supersteps or checkpoints) to the loop.
"""

from ahora.middleware.date_prompt import DatePromptMiddleware
from ahora.middleware.empty_reply import EmptyReplyMiddleware
from ahora.middleware.invalid_tool_calls import InvalidToolCallsMiddleware
from ahora.middleware.step_budget import StepBudgetMiddleware
from ahora.middleware.tool_errors import ToolErrorsMiddleware
from ahora.middleware.tool_output import ToolOutputMiddleware

__all__ = [
    "DatePromptMiddleware",
    "EmptyReplyMiddleware",
    "InvalidToolCallsMiddleware",
    "StepBudgetMiddleware",
    "ToolErrorsMiddleware",
    "ToolOutputMiddleware",
]
