"""Built-in tools. ``default_tools()`` loads them through the same registry as plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["BUILTIN_TOOL_NAMES", "default_tools"]

BUILTIN_TOOL_NAMES = ("web_search", "read_page", "weather", "calculator", "clock")


def default_tools() -> list[BaseTool]:
    """The built-in tools: web_search, read_page, weather, calculator, clock."""
    from ahora.tools.registry import load_builtin_tools

    return load_builtin_tools()
