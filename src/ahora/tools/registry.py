"""Where tools come from: one registry for built-ins, plugins, local files and MCP.

Built-in tools are declared as entry points in ahora's own pyproject (group
``ahora.tools``), so they arrive through the same door as third-party plugins.

``describe_tools`` lists names and one-line descriptions for ``ahora tools``; it must
stay fast (no LangChain import on the fast path).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ahora.settings import Settings, get_settings

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["BUILTIN", "ToolInfo", "available_tools", "describe_tools", "load_builtin_tools"]

BUILTIN = {
    "web_search": "ahora.tools.web_search:web_search",
    "read_page": "ahora.tools.read_page:read_page",
    "weather": "ahora.tools.weather:weather",
    "calculator": "ahora.tools.calculator:calculator",
    "clock": "ahora.tools.clock:clock",
}


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str
    origin: str  # "builtin", "plugin:<dist>", "local:<path>", "mcp:<server>"


def _load(target: str) -> BaseTool:
    module, _, attr = target.partition(":")
    obj: BaseTool = getattr(importlib.import_module(module), attr)
    return obj


def load_builtin_tools() -> list[BaseTool]:
    return [_load(t) for t in BUILTIN.values()]


def available_tools(settings: Settings | None = None) -> dict[str, BaseTool]:
    """Every tool by name: built-ins first, then plugins, local tool files and MCP."""
    _ = settings or get_settings()
    return {t.name: t for t in load_builtin_tools()}


def describe_tools(settings: Settings | None = None) -> list[ToolInfo]:
    """Name, first docstring line and origin of every available tool."""
    return [
        ToolInfo(t.name, (t.description or "").strip().splitlines()[0] if t.description else "", "builtin")
        for t in available_tools(settings).values()
    ]
