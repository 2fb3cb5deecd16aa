"""Behaviours around the model and tool calls, one small file each.

All are LangChain v1 ``AgentMiddleware`` subclasses that only use the ``wrap_*``
hooks: those compose inside the existing model and tool nodes, so they add no graph
nodes (and no supersteps or checkpoints) to the loop. The one exception is human
approval (LangChain's own middleware): a node after each model call, in every graph
the server builds (one shape for every profile) and in any graph that gates a tool.
"""

from ahora.middleware.approvals import ApprovalMiddleware
from ahora.middleware.budget import BudgetMiddleware
from ahora.middleware.context_window import ContextWindowMiddleware
from ahora.middleware.dangling_calls import DanglingToolCallsMiddleware
from ahora.middleware.date_prompt import DatePromptMiddleware
from ahora.middleware.empty_reply import EmptyReplyMiddleware
from ahora.middleware.invalid_tool_calls import InvalidToolCallsMiddleware
from ahora.middleware.lone_surrogates import LoneSurrogatesMiddleware
from ahora.middleware.loop_guard import LoopGuardMiddleware
from ahora.middleware.model_fallback import ModelFallbackMiddleware
from ahora.middleware.offered_tools import OfferedToolsMiddleware
from ahora.middleware.run_context import RunContextMiddleware
from ahora.middleware.tool_call_cap import ToolCallCapMiddleware
from ahora.middleware.tool_errors import ToolErrorsMiddleware
from ahora.middleware.tool_output import ToolOutputMiddleware
from ahora.middleware.tool_timeout import ToolTimeoutMiddleware

__all__ = [
    "ApprovalMiddleware",
    "BudgetMiddleware",
    "ContextWindowMiddleware",
    "DanglingToolCallsMiddleware",
    "DatePromptMiddleware",
    "EmptyReplyMiddleware",
    "InvalidToolCallsMiddleware",
    "LoneSurrogatesMiddleware",
    "LoopGuardMiddleware",
    "ModelFallbackMiddleware",
    "OfferedToolsMiddleware",
    "RunContextMiddleware",
    "ToolCallCapMiddleware",
    "ToolErrorsMiddleware",
    "ToolOutputMiddleware",
    "ToolTimeoutMiddleware",
]
