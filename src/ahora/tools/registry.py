"""Where tools come from: the ``ahora.tools`` entry-point group (built-ins included).

Built-in tools are declared as entry points in ahora's own pyproject, so they
arrive through the same door as third-party plugins.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

BUILTIN = {
    "web_search": "ahora.tools.web_search:web_search",
    "read_page": "ahora.tools.read_page:read_page",
    "weather": "ahora.tools.weather:weather",
    "calculator": "ahora.tools.calculator:calculator",
    "clock": "ahora.tools.clock:clock",
}


def _load(target: str) -> BaseTool:
    module, _, attr = target.partition(":")
    obj: BaseTool = getattr(importlib.import_module(module), attr)
    return obj


def load_builtin_tools() -> list[BaseTool]:
    return [_load(t) for t in BUILTIN.values()]
