"""The conversation format: what ahora writes into messages and how to read it back.

Middleware write markers, fences and metadata into the conversation; views (events,
answers, export, the terminal) read them back. Both sides import this module and
neither imports the other, so the format has one home. Kept free of heavy imports.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FENCE_CLOSE", "FENCE_OPEN", "content_text", "fence"]

FENCE_OPEN = "<tool_output"
FENCE_CLOSE = "</tool_output>"


def content_text(content: Any) -> str:
    """Tool content as text (MCP and some tools return lists of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            else:
                parts.append(str(block))
        return "\n".join(parts)
    return str(content)


_FENCE_TAG = re.compile(r"<(\s*/?\s*)tool_output", re.IGNORECASE)


def fence(text: str, tool: str) -> str:
    """Wrap ``text`` in the fence; any fence-like tag inside it (any case or spacing)
    is renamed so that it cannot open or close the fence."""
    safe = _FENCE_TAG.sub(r"<\1tool_output_", text)
    return f'{FENCE_OPEN} tool="{tool}">\n{safe}\n{FENCE_CLOSE}'
