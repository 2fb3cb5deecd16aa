"""What one run hands to its tools and middleware: the run context.

Settings are resolved once, at the edge (the CLI, ``Agent()``, the server's graph
factory), and travel with the run as LangGraph's runtime context
(``graph.invoke(..., context=RunContext(...))``). A tool reads them from the
``ToolRuntime`` LangGraph injects into any tool with a parameter named ``runtime``,
so two agents with two ``Settings`` in one process each see their own, in the prompt
and in every tool. Re-reading the environment inside a tool (``get_settings()``)
would ignore the agent's settings.

A plugin or local tool that wants them::

    from langchain.tools import ToolRuntime
    from ahora import RunContext

    @tool
    def my_tool(city: str, runtime: ToolRuntime[RunContext]) -> str:
        \"\"\"...\"\"\"
        units = runtime.context.settings.units

Kept free of heavy imports: the CLI imports it on every start.
"""

from __future__ import annotations

from dataclasses import dataclass

from ahora.settings import Settings, get_settings

__all__ = ["RunContext", "settings_of"]


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """The run's dependencies: the agent's settings."""

    settings: Settings


def settings_of(runtime: object) -> Settings:
    """The settings of the run a tool was called in.

    ``runtime`` is the injected ``ToolRuntime``. A tool called directly, outside any
    agent (``clock.invoke({})``), has none; that call is itself an edge, so the
    settings come from the environment and config file then.
    """
    context = getattr(runtime, "context", None)
    if isinstance(context, RunContext):
        return context.settings
    return get_settings()
