"""Outside text made inert before a terminal (or a pipe) sees it.

Page titles, search results, file names, tool names and arguments are written by
strangers. A terminal obeys the control characters in what it prints: ESC starts
sequences that set the clipboard (OSC 52), draw fake hyperlinks (OSC 8), clear the
screen or move the cursor; CR and backspace overwrite what is already drawn; bidi
overrides reorder it. ``clean`` shows each of them as a visible stand-in, so nothing
is hidden and nothing is obeyed; newline and tab are kept.

``ahora.cli.console.SafeConsole`` (made by ``cli.common.make_console``) applies
``clean`` to the text of every segment it writes, so rich's own styling and cursor
codes still work and the model's Markdown is still rendered. Writers that bypass
rich call ``clean`` directly.

``json_text`` does the same for JSON lines (``--json``) without changing the data.
``no_images`` is the notebook's counterpart: a Markdown image is fetched by the
browser that renders it, so it could carry data to a server the model chose.
"""

from __future__ import annotations

import re

__all__ = ["clean", "is_clean", "json_text", "no_images"]

# C0 (except tab and newline), DEL, C1, and the invisible characters that reorder or
# hide text: bidi embeddings, overrides and isolates, marks, and the BOM.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␛ for ESC, ␍ for CR, ␈ for backspace ...
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"  # C1 and bidi controls have no picture: name them


def clean(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown visibly instead of obeyed.

    Newlines and tabs stay (``one_line``: they too are shown, for a name that must
    not draw a line of its own); a CR before a newline is dropped (Windows line
    ends); ESC becomes ``␛``, a lone CR ``␍``, C1 and bidi controls ``<U+009B>``.
    """
    if one_line:
        return _UNSAFE.sub(_visible, text.replace("\n", "\u240a").replace("\t", "\u2409"))
    if is_clean(text):
        return text
    return _UNSAFE.sub(_visible, text.replace("\r\n", "\n"))


def is_clean(text: str) -> bool:
    """True when ``clean`` would leave ``text`` as it is."""
    return _UNSAFE.search(text) is None


_IMAGE = re.compile(r"!(?=\s*\[)")


def no_images(markdown: str) -> str:
    """Markdown whose images render as links (``![a](u)`` shows "!" and a link to u).

    A zero-width space after the ``!`` breaks the image syntax in every form
    (inline, reference, inside a link) while the text reads the same.
    """
    return _IMAGE.sub("!\u200b", markdown)


def json_text(dumped: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the controls that
    JSON leaves raw (DEL, C1, bidi) written as ``\\u`` escapes: same data, inert text."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
