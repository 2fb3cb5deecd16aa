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
``inert_markdown`` and ``markdown_link`` finish the notebook's side: Jupyter renders
the HTML in fresh outputs unsanitised, so outside text keeps its Markdown emphasis but
no live tag, and links only ever point at ``http(s)`` addresses.
"""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = [
    "clean",
    "inert_markdown",
    "is_clean",
    "json_text",
    "markdown_link",
    "no_images",
    "no_surrogates",
]

# C0 (except tab and newline), DEL, C1, and the invisible characters that reorder or
# hide text: bidi embeddings, overrides and isolates, marks, and the BOM.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


_SURROGATE = re.compile("[\ud800-\udfff]")


def no_surrogates(text: str) -> str:
    """``text`` with every lone surrogate (``\\ud800``) replaced by U+FFFD.

    Outside text (a model's reply, a search result, a page, JSON with a bad ``\\u``
    escape) may carry one; UTF-8 cannot encode it, so writing it to SQLite, a file or a
    terminal would end in ``UnicodeEncodeError``. A pair split in two is joined first.
    """
    if text.isascii() or _SURROGATE.search(text) is None:  # isascii: a flag, no scan
        return text
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _SURROGATE.sub("\ufffd", joined)


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
    text = no_surrogates(text)
    if one_line:
        return _UNSAFE.sub(_visible, text.replace("\n", "\u240a").replace("\t", "\u2409"))
    if is_clean(text):
        return text
    return _UNSAFE.sub(_visible, text.replace("\r\n", "\n"))


def is_clean(text: str) -> bool:
    """True when ``clean`` would leave ``text`` as it is."""
    return _UNSAFE.search(text) is None and _SURROGATE.search(text) is None


_IMAGE = re.compile(r"!(?=\s*\[)")


def no_images(markdown: str) -> str:
    """Markdown whose images render as links (``![a](u)`` shows "!" and a link to u).

    A zero-width space after the ``!`` breaks the image syntax in every form
    (inline, reference, inside a link) while the text reads the same.
    """
    return _IMAGE.sub("!\u200b", markdown)


# A Markdown link needs ``](``, ``][`` or ``]:`` (a reference definition, which a
# shortcut ``[x]`` also needs); with that ``]`` written as an entity, and ``<`` too
# (autolinks, raw HTML), no link or tag can form. Inline links to http(s) are kept.
_HTTP_LINK = re.compile(
    r"\[([^\[\]\n]*)\]\((https?://(?:[^\s()<>\\]|\([^\s()<>\\]*\))+)\)", re.IGNORECASE
)
_LINK_END = re.compile(r"\](?=[(\[:])")
# Characters a link destination shows as they are; everything else is %-encoded.
_URL_SAFE = "/:?#[]@!$&'*+,;=%~-._"


def _inert(text: str) -> str:
    return _LINK_END.sub("&#93;", text.replace("<", "&lt;"))


def inert_markdown(text: str) -> str:
    """Outside Markdown (an answer, a token) with no live HTML and no link but http(s).

    Emphasis, lists and code stay; ``<`` becomes ``&lt;``; a ``[text](http...)`` link
    stays a link (its address %-encoded); every other link form is broken, so
    ``javascript:``, ``file:`` and ``data:`` addresses show as text. Images render as
    links (``no_images``).
    """
    out: list[str] = []
    last = 0
    for match in _HTTP_LINK.finditer(text):
        out.append(_inert(text[last : match.start()]))
        out.append(markdown_link(_inert(match.group(1)), match.group(2)))
        last = match.end()
    out.append(_inert(text[last:]))
    return no_images("".join(out))


def markdown_link(label: str, url: str) -> str:
    """``[label](url)`` when ``url`` is http(s), else the label and the address as text.

    ``label`` must already be inert Markdown. The address is %-encoded beyond a
    conservative set (spaces, ``<>``, parentheses, backslashes), so it can neither end
    the link early nor carry a tag; any other scheme is shown, escaped, not linked.
    """
    if re.match(r"https?://", url, re.IGNORECASE):
        return f"[{label}]({quote(url, safe=_URL_SAFE)})"
    shown = _inert(url.replace("&", "&amp;")).replace("[", "&#91;").replace("]", "&#93;")
    return label if shown == label else f"{label} ({shown})"


def json_text(dumped: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the controls that
    JSON leaves raw (DEL, C1, bidi, lone surrogates) written as ``\\u`` escapes: same
    data, inert text that any UTF-8 stream can carry."""
    dumped = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
