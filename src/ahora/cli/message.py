"""The one way ahora's own messages reach a person: wrapped to the terminal, whole
lines for a pipe.

Errors, warnings, hints and summaries are written as logical lines (a paragraph,
a list item, a two-column row like ``/help``'s). On a terminal each is wrapped at
the terminal's width with words kept whole and continuation lines indented under
the text they continue, so a terminal never breaks ``LM Studio`` into ``L`` and
``M Studio``; a URL longer than the line is cut with an ellipsis, the way ``ask``
draws sources. Piped, each logical line is written whole, so ``grep`` finds it.

A line indented to where the previous line's text starts is a continuation of it
(a message wrapped by hand): it is joined before wrapping, so hand-wrapped text
reflows instead of being broken twice.

Only the standard library is imported: ``fail`` and the typo check use this before
anything heavy loads.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TextIO

from ahora.safe_text import clean

__all__ = ["echo", "hanging_indent", "logical_lines", "terminal_width", "wrap"]

# A list marker ("1. ", "- ", "• ") or a two-column row: text, two or more spaces, text.
_MARKER = re.compile(r"(?:\d{1,2}\.|[-*•✗✓])\s+")
_COLUMNS = re.compile(r"\S.*?\s{2,}(?=\S)")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)


def _marker_indent(line: str) -> int:
    """Where the text after ``line``'s indent and list marker starts."""
    lead = len(line) - len(line.lstrip(" "))
    marker = _MARKER.match(line, lead)
    return marker.end() if marker else lead


def hanging_indent(line: str) -> int:
    """Where continuation lines of ``line`` start: under the text after its list
    marker, or under its second column (``/help``'s rows), else its own indent."""
    lead = _marker_indent(line)
    columns = _COLUMNS.match(line[lead:])
    if columns and columns.end() <= 40:
        lead += columns.end()
    return lead


def logical_lines(text: str) -> list[str]:
    """``text``'s lines with hand-wrapped continuations joined to the line they continue."""
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if out and stripped and out[-1].strip():
            lead = len(line) - len(line.lstrip(" "))
            if lead and lead == hanging_indent(out[-1]):
                out[-1] = out[-1].rstrip() + " " + stripped
                continue
        out.append(line.rstrip())
    return out


def _fit_word(word: str, room: int) -> str:
    """A word longer than the line: a URL is cut with an ellipsis, like ``ask``'s
    sources; anything else (a path the user may have to type) is left whole, for
    the terminal to break."""
    if len(word) > room and _URL.match(word) and room > 1:
        return word[: room - 1] + "…"
    return word


def wrap(text: str, width: int) -> str:
    """``text`` wrapped at ``width`` columns: words whole, hanging indents kept."""
    width = max(width, 20)
    lines: list[str] = []
    for line in logical_lines(text):
        if len(line) <= width:
            lines.append(line)
            continue
        indent = hanging_indent(line)
        if indent > width // 2:  # a narrow terminal: under the list marker only
            indent = min(_marker_indent(line), width // 4)
        lead = len(line) - len(line.lstrip(" "))
        current = line[:lead]
        # Split on single spaces only after the first column, so "  1. A=b      c" keeps
        # its column gap; words are the runs between spaces.
        head_end = hanging_indent(line)
        head = line[lead:head_end]
        words = line[head_end:].split(" ")
        if head and len(current) + len(head) <= width:
            current += head
        elif head:
            words = head.split(" ") + words
        start = True
        for word in words:
            if not word:
                continue
            sep = "" if start else " "
            if len(current) + len(sep) + len(word) <= width:
                current += sep + word
                start = False
                continue
            if not start:
                lines.append(current.rstrip())
                current = " " * indent
            current += _fit_word(word, width - len(current))
            start = False
        lines.append(current.rstrip())
    return "\n".join(lines)


def terminal_width(stream: TextIO) -> int | None:
    """The width of the terminal ``stream`` writes to, or None when it is not one."""
    try:
        if not stream.isatty():
            return None
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


def echo(text: str, *, err: bool = True, width: int | None = None) -> None:
    """Write one of ahora's messages (outside text in it is cleaned): wrapped to the
    terminal, or as whole logical lines when the stream is a pipe or a file."""
    stream = sys.stderr if err else sys.stdout
    text = clean(text)
    if width is None:
        width = terminal_width(stream)
    out = wrap(text, width) if width else "\n".join(logical_lines(text))
    stream.write(out + "\n")
    stream.flush()
