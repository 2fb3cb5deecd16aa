"""Small pieces the views share: words, links, Markdown answers, output for pipes.

Kept apart from ``render.py`` (which loads rich's live display for ``ask`` and
``chat``) so the listing commands (``tools``, ``threads``, ``agents``, ``docs``)
import only what they draw with.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from rich.text import Text

from ahora.safe_text import clean

if TYPE_CHECKING:
    from rich.console import Console
    from rich.markdown import Markdown

__all__ = ["answer_markdown", "link_text", "plural", "print_unpadded"]


def plural(n: int, word: str) -> str:
    """``1 turn``, ``2 turns``, ``1,234 tokens``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def answer_markdown(text: str) -> Markdown:
    """An answer as Markdown that keeps the model's line breaks.

    CommonMark joins lines of a paragraph with a space ("soft break"); models write
    "Max: 29 °C\nMin: 14 °C" meaning two lines, so every soft break becomes a hard
    one. Lists, code blocks and headings render as usual. A link whose text is not
    its target is followed by the target (``_honest_links``).
    """
    from rich.markdown import Markdown

    # Cleaned before layout: the visible stand-ins are wider than the controls they
    # replace, and rich must measure what the terminal will draw.
    md = Markdown(clean(text))
    for token in md.parsed:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"
        if token.children:
            token.children = _honest_links(token.children)
    return md


def _honest_links(children: list[Any]) -> list[Any]:
    """Inline tokens where every link shows where it goes.

    ``[https://bank.example](https://evil.example)`` would show the bank and open the
    other site: the shown text is the model's, the target is what the terminal opens.
    So a link whose text is not its own target gets `` (target)`` after it.
    """
    from markdown_it.token import Token

    out: list[Any] = []
    href, shown = "", ""
    for child in children:
        out.append(child)
        if child.type == "link_open":
            href, shown = str(child.attrs.get("href", "")), ""
        elif child.type in ("text", "code_inline"):
            shown += child.content
        elif child.type == "link_close" and _bare(shown) != _bare(href):
            out.append(Token("text", "", 0, content=f" ({href})"))
    return out


def _bare(url: str) -> str:
    """``url`` without what a reader does not compare: scheme, ``www.``, the final
    slash, percent-escapes and case."""
    url = unquote(url.strip()).lower()
    url = re.sub(r"^(https?://|mailto:)", "", url).removeprefix("www.")
    return url.rstrip("/")


def link_text(url: str, *, indent: int = 0, style: str = "dim") -> Text:
    """A URL for one line: cut with an ellipsis by the caller's ``overflow``, while the
    hyperlink (where the terminal supports it) keeps the whole URL."""
    text = Text(" " * indent + url, style=style)
    text.stylize(f"link {url}", indent)
    return text


def print_unpadded(console: Console, renderable: Any) -> None:
    """Print for a pipe: as wide as the content needs, no trailing spaces.

    Tables pad every cell to its column's width; a pipe wants whole values (no
    ellipsis at 80 columns) and lines without the padding. Each line goes out
    through the console (``Console.out``: no markup, no wrapping), so whatever the
    console does to text on its way out (ahora's cleans it) still happens.
    """
    options = console.options.update(width=10_000, no_wrap=True)
    for line in console.render_lines(renderable, options, pad=False):
        console.out("".join(seg.text for seg in line).rstrip(), highlight=False)
