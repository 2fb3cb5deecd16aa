"""ahora: tool-using agents that answer with what is true now.

The public API is imported lazily so that ``import ahora`` (and the CLI) stays fast:
LangChain and LangGraph load only when a model is about to run.
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ahora.__about__ import __version__

if _TYPE_CHECKING:
    from ahora.agent import Agent, build_agent, create_agent
    from ahora.answer import Answer
    from ahora.budget import Budget
    from ahora.context import RunContext
    from ahora.settings import Settings
    from ahora.sourced import Sourced

__all__ = [
    "Agent",
    "Answer",
    "Budget",
    "RunContext",
    "Settings",
    "Sourced",
    "__version__",
    "build_agent",
    "create_agent",
]

_LAZY = {
    "Agent": "ahora.agent",
    "build_agent": "ahora.agent",
    "create_agent": "ahora.agent",
    "Answer": "ahora.answer",
    "Budget": "ahora.budget",
    "RunContext": "ahora.context",
    "Settings": "ahora.settings",
    "Sourced": "ahora.sourced",
}


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        return getattr(_import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ahora' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
