"""The conversation format: what ahora writes into messages and how to read it back.

Middleware write markers, fences and metadata into the conversation; views (events,
answers, export, the terminal) read them back. Both sides import this module and
neither imports the other, so the format has one home. Kept free of heavy imports.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
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


# What a reader might take for "<", "/" or a letter of the tag, beyond what NFKC folds.
_LOOKALIKES = str.maketrans(
    {
        "\u2039": "<",  # ‹
        "\u3008": "<",  # 〈
        "\u27e8": "<",  # ⟨
        "\u2215": "/",  # ∕
        "\u2044": "/",  # ⁄
        "\u29f8": "/",  # ⧸
        "\u043e": "o",  # Cyrillic o
        "\u03bf": "o",  # Greek omicron
        "\u0440": "p",  # Cyrillic er
        "\u03c1": "p",  # Greek rho
        "\u0442": "t",  # Cyrillic te
        "\u03c4": "t",  # Greek tau
        "\u03c5": "u",  # Greek upsilon
        "\u04cf": "l",  # Cyrillic palochka
        "\u0131": "i",  # dotless i
    }
)
_TOKEN = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?|.", re.S)
_TAG = re.compile(r"</?tooloutput")


@functools.lru_cache(maxsize=4096)
def _shadow(token: str) -> str:
    """How a reader sees one character (or one entity) when looking for a tag: entities
    decoded, NFKC, case folded, lookalikes mapped, accents dropped, and format
    characters (zero-width, soft hyphen, bidi), spaces, dashes and underscores gone."""
    text = html.unescape(token) if token.startswith("&") else token
    text = unicodedata.normalize("NFKC", text).casefold().translate(_LOOKALIKES)
    return "".join(
        c
        for c in unicodedata.normalize("NFKD", text)
        if unicodedata.category(c)[0] not in "CZM" and unicodedata.category(c) not in ("Pc", "Pd")
    )


def _defuse(text: str) -> str:
    """Rename every fence-like tag in ``text``, however it is spelled, to
    ``<tool_output_`` (or ``</tool_output_``), so nothing inside can open or close it."""
    if text.isascii() and "<" not in text and "&" not in text:
        return text  # nothing here could read as a tag
    starts: list[int] = []  # where each token of the shadow text begins in ``text``
    ends: list[int] = []
    shadow: list[str] = []
    for m in _TOKEN.finditer(text):
        for ch in _shadow(m.group()):
            starts.append(m.start())
            ends.append(m.end())
            shadow.append(ch)
    out: list[str] = []
    done = 0
    for m in _TAG.finditer("".join(shadow)):
        begin, stop = starts[m.start()], ends[m.end() - 1]
        out.append(text[done:begin])
        out.append("</tool_output_" if m.group().startswith("</") else "<tool_output_")
        done = stop
    out.append(text[done:])
    return "".join(out)


def _attribute(value: str) -> str:
    """A value for the fence header: defused, HTML-escaped, one line, bounded."""
    value = html.escape(_defuse(value[:200]), quote=True)
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"&#{ord(m.group())};", value)


def fence(text: str, tool: str) -> str:
    """Wrap ``text`` in the fence; any fence-like tag inside it (any case, spacing,
    entity, width, zero-width or lookalike letters) is renamed so that it cannot open
    or close the fence, and the tool name is escaped as an attribute."""
    return f'{FENCE_OPEN} tool="{_attribute(tool)}">\n{_defuse(text)}\n{FENCE_CLOSE}'
