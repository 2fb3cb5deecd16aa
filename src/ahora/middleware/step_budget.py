"""Compatibility module: the step budget now lives in ``ahora.middleware.budget``."""

from ahora.middleware.budget import (
    STOPPED_EARLY,
    BudgetMiddleware,
    StepBudgetMiddleware,
    steps_this_run,
    without_tool_calls,
)

__all__ = [
    "STOPPED_EARLY",
    "BudgetMiddleware",
    "StepBudgetMiddleware",
    "steps_this_run",
    "without_tool_calls",
]
