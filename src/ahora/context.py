"""A run is one value: the run context every middleware and tool reads per call.

Settings are resolved once, at the edge (the CLI, ``Agent()``, the server's graph
factory). Everything that belongs to one run (the settings, the ``Budget``, the
wall-clock deadline, the tools that need approval) travels in one ``RunContext``,
passed as LangGraph's runtime context (``graph.invoke(..., context=RunContext(...))``).
Middleware read it from ``request.runtime.context``; a tool reads it from the
``ToolRuntime`` LangGraph injects into any tool with a parameter named ``runtime``.
Values given when the graph was built are only defaults: a graph driven without a
context (``graph.invoke`` on a ``build_agent`` graph, the LangGraph server) gets its
build-time context, with the deadline counted from the run's start
(``middleware/run_context.py``), so every path behaves the same.

A plugin or local tool that wants the settings::

    from langchain.tools import ToolRuntime
    from ahora import RunContext

    @tool
    def my_tool(city: str, runtime: ToolRuntime[RunContext]) -> str:
        \"\"\"...\"\"\"
        units = runtime.context.settings.units

Kept free of heavy imports: the CLI imports it on every start.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from ahora.budget import Budget
from ahora.settings import Settings, get_settings

__all__ = ["RunContext", "context_of", "settings_of"]


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """Everything one run needs that is not in its messages.

    ``deadline`` is a ``time.time()`` after which the run lands (None: no limit);
    ``approvals`` names the tools that need a human's approval in this run;
    ``delegates`` the tools that are other agents (``ahora.subagents``), which share
    the run's budget.
    """

    settings: Settings
    budget: Budget = field(default_factory=Budget)
    deadline: float | None = None
    approvals: frozenset[str] = frozenset()
    delegates: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        # Settings masks its own secrets; the rest holds none.
        return (
            f"RunContext(settings={self.settings!r}, budget={self.budget!r}, "
            f"deadline={self.deadline!r}, approvals={sorted(self.approvals)!r}, "
            f"delegates={sorted(self.delegates)!r})"
        )

    def started(self, at: float | None = None) -> RunContext:
        """This context for a run starting ``at`` (now): the deadline from the budget."""
        seconds = self.budget.seconds
        if seconds is None:
            return self if self.deadline is None else replace(self, deadline=None)
        return replace(self, deadline=(time.time() if at is None else at) + seconds)

    def tightened(self, wishes: Any) -> RunContext:
        """The context with a caller's lower limits (``Budget.tightened``); the deadline
        moves only earlier."""
        budget = self.budget.tightened(wishes)
        if budget == self.budget:
            return self
        out = replace(self, budget=budget)
        if self.deadline is not None and budget.seconds is not None and self.budget.seconds:
            # Same start, shorter limit.
            out = replace(out, deadline=self.deadline - self.budget.seconds + budget.seconds)
        return out


def context_of(request: object) -> RunContext | None:
    """The run context of a middleware request or a tool's runtime, if it carries one."""
    context = getattr(request, "context", None)
    if not isinstance(context, RunContext):
        context = getattr(getattr(request, "runtime", None), "context", None)
    return context if isinstance(context, RunContext) else None


def settings_of(runtime: object) -> Settings:
    """The settings of the run a tool was called in.

    ``runtime`` is the injected ``ToolRuntime``. A tool called directly, outside any
    agent (``clock.invoke({})``), has none; that call is itself an edge, so the
    settings come from the environment and config file then.
    """
    context = context_of(runtime)
    if context is not None:
        return context.settings
    return get_settings()
