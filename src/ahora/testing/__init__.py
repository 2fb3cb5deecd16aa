"""Test doubles for ahora users' own tests (and ours).

- ``ScriptedChatModel`` (``ahora.testing.scripted``): a chat model that plays back a
  script of replies, supports ``bind_tools``, streams and reports usage, so an agent
  built on it runs its tools for real. ``tool_call``, ``tool_calls`` and
  ``invalid_tool_call`` build scripted replies.
- ``OpenAIServer`` (``ahora.testing.openai_server``): a loopback OpenAI-compatible
  server for end-to-end tests through the real client, in-process or as a subprocess.

Names are imported lazily, so starting the server as a subprocess does not pay for
importing LangChain.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ahora.testing.openai_server import OpenAIServer
    from ahora.testing.scripted import (
        Reply,
        ScriptedChatModel,
        ScriptExhausted,
        invalid_tool_call,
        tool_call,
        tool_calls,
    )

__all__ = [
    "OpenAIServer",
    "Reply",
    "ScriptExhausted",
    "ScriptedChatModel",
    "invalid_tool_call",
    "tool_call",
    "tool_calls",
]

_HOME = {name: "ahora.testing.scripted" for name in __all__}
_HOME["OpenAIServer"] = "ahora.testing.openai_server"


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'ahora.testing' has no attribute {name!r}")
