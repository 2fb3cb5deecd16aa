"""The rich console every command prints with: rich's own codes pass, outside text
is cleaned (``ahora.safe_text``) at the last step before it is written.

Cleaning at the segment level, after rendering, is the one place every view goes
through (Markdown, tables, the live status, prompts), and it can tell rich's cursor
and colour codes (control segments, styles) from the text they carry.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from ahora.cli.message import logical_lines, wrap
from ahora.safe_text import clean, is_clean

__all__ = ["SafeConsole", "clean_segments", "print_message"]


def clean_segments(segments: Iterable[Segment]) -> Iterable[Segment]:
    """Segments with their text cleaned; control segments (rich's cursor moves) pass,
    and a hyperlink target with control characters in it is cleaned too."""
    for seg in segments:
        if seg.control:
            yield seg
            continue
        style = seg.style
        if style is not None and style.link and not is_clean(style.link):
            style = style + Style(link=clean(style.link))
        yield Segment(clean(seg.text), style)


class SafeConsole(Console):
    """A ``Console`` that never writes a control character it did not make itself."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(clean_segments(buffer))


def print_message(console: Console, text: str | Text, *, style: str | None = None) -> None:
    """One of ahora's messages on a rich console, laid out like ``message.echo``:
    wrapped with hanging indents on a terminal (rich alone would start continuation
    lines at column 0 and break a long URL anywhere), whole lines on a pipe.

    A ``Text``'s styles are kept on its first characters (a coloured "✓ " mark);
    wrapping moves only the spaces after them.
    """
    head = text if isinstance(text, Text) else Text(text)
    plain = clean(head.plain)
    laid = wrap(plain, console.width) if console.is_terminal else "\n".join(logical_lines(plain))
    out = Text(laid, style=style or "")
    if isinstance(text, Text) and laid.startswith(plain[:1]):
        for span in text.spans:
            if laid[: span.end] == plain[: span.end]:
                out.stylize(span.style, span.start, span.end)
    console.print(out, highlight=False, no_wrap=True, overflow="ignore", crop=False)
