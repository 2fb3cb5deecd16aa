"""HTML to main text: trafilatura, with limits checked on the parsed tree first.

:func:`extract_main_text` is what ``read_page`` runs (inside :mod:`ahora.worker`, so a
page that still outruns the limits is killed at the deadline), and what
``benchmarks/bench_extraction.py`` measures. It imports neither LangChain nor the
rest of ahora, so a worker process starts quickly.

Hostile pages are cheap to write and expensive to read. Measured on this 2-core
machine before the limits: one tag with 270,000 attributes ran for minutes; 100,000
``<p>`` or 150,000 links took tens of seconds and hundreds of MB; a wide table with
huge ``colspan`` the same. Real pages (181 from an extraction benchmark) have at most
64 attributes on a tag and under 2,000 elements, so the limits below cost them
nothing: attributes past ``MAX_ATTRIBUTES`` on one element are dropped, spans are
clamped to ``MAX_SPAN``, and a tree of more than ``MAX_ELEMENTS`` elements skips
trafilatura's passes (which grow faster than the tree) for a linear visible-text pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_ELEMENTS",
    "MAX_SPAN",
    "Extracted",
    "extract_for_worker",
    "extract_main_text",
    "text_codec",
    "tidy",
]

MAX_ATTRIBUTES = 100
MAX_SPAN = 10
MAX_ELEMENTS = 40_000
MAX_TAG_CHARS = 65_536
_LONG_TAG = re.compile(r"<(/?[A-Za-z][A-Za-z0-9:-]{0,64})[^<>]{" + str(MAX_TAG_CHARS) + ",}")
_LONG_TAG_BYTES = re.compile(_LONG_TAG.pattern.encode())
_KEPT_ATTRIBUTES = ("id", "class", "role", "itemprop", "property", "content", "href", "lang")


@dataclass(frozen=True)
class Extracted:
    """The readable part of a page."""

    title: str
    text: str


def extract_main_text(html: str | bytes, url: str | None = None) -> Extracted:
    """The page's main content as Markdown, plus its title.

    trafilatura's precision-balanced extraction first; when that finds nothing, its
    recall mode; when that too finds nothing (or the tree is too large for it), the
    visible text of the whole page (scripts, styles, navigation and footers removed).
    """
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(_shrink_long_tags(html))
    if tree is None:
        return Extracted(title="", text="")
    elements = _limit(tree)
    title = _title(tree)
    if elements > MAX_ELEMENTS:
        return Extracted(title=title, text=tidy(_visible_text(tree)))
    options: dict[str, Any] = {
        "url": url,
        "output_format": "markdown",
        "include_links": False,
        "include_comments": False,
        "include_tables": True,
        "include_images": False,
    }
    text = trafilatura.extract(tree, **options) or ""
    if not text.strip():
        text = trafilatura.extract(tree, favor_recall=True, **options) or ""
    if not text.strip():
        text = _visible_text(tree)
    return Extracted(title=title, text=tidy(text))


def extract_for_worker(payload: bytes, *, url: str | None, encoding: str | None) -> dict[str, str]:
    """:func:`extract_main_text` as :func:`ahora.worker.run` calls it: bytes in, JSON out."""
    html: str | bytes = payload.decode(encoding, errors="replace") if encoding else payload
    found = extract_main_text(html, url)
    return {"title": found.title, "text": found.text}


def _shrink_long_tags(html: str | bytes) -> str | bytes:
    """Cut any tag longer than ``MAX_TAG_CHARS`` down to its bare name, before parsing.

    libxml2 compares each attribute with every earlier one on the same tag, so one
    tag with 270,000 attributes takes minutes to parse. The pattern cannot backtrack
    far (``[^<>]`` stops at the next ``<``), so this is one linear pass.
    """
    if isinstance(html, bytes):
        return _LONG_TAG_BYTES.sub(rb"<\1", html)
    return _LONG_TAG.sub(r"<\1", html)


def _limit(tree: Any) -> int:
    """Drop attribute floods and clamp spans in place; return the number of elements."""
    count = 0
    for element in tree.iter():
        count += 1
        attrib = element.attrib
        if len(attrib) > MAX_ATTRIBUTES:
            kept = {k: attrib[k] for k in _KEPT_ATTRIBUTES if k in attrib}
            attrib.clear()
            attrib.update(kept)
        for span in ("colspan", "rowspan"):
            value = attrib.get(span)
            if value is not None and (not value.isdecimal() or int(value) > MAX_SPAN):
                attrib[span] = str(MAX_SPAN) if value.isdecimal() else "1"
    return count


def _title(tree: Any) -> str:
    for xpath in (
        '//meta[@property="og:title"]/@content',
        "//head/title//text()",
        "//title//text()",
        "//h1//text()",
    ):
        found = " ".join(str(t) for t in tree.xpath(xpath)).strip()
        if found:
            return re.sub(r"\s+", " ", found)[:300]
    return ""


_NOISE_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
)


def _visible_text(tree: Any) -> str:
    """Last resort: the page's visible text without scripts, menus and footers."""
    from copy import deepcopy

    from lxml import etree

    body = deepcopy(tree)
    etree.strip_elements(body, *_NOISE_TAGS, with_tail=False)
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in body.itertext())
    return "\n".join(line for line in lines if line)


def tidy(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# Encodings a web page may declare (the WHATWG Encoding Standard's, as Python names
# them). Python also ships codecs that are not text encodings (rot13, hex, zlib, base64)
# or that no page should use (idna, punycode, unicode_escape, utf-7): a page declaring
# one of those is decoded as if it had declared nothing.
_WEB_ENCODINGS = (
    "utf-8 utf-16-le utf-16-be ibm866 iso-8859-2 iso-8859-3 iso-8859-4 iso-8859-5 "
    "iso-8859-6 iso-8859-7 iso-8859-8 iso-8859-10 iso-8859-13 iso-8859-14 iso-8859-15 "
    "iso-8859-16 koi8-r koi8-u mac-roman mac-cyrillic cp874 cp1250 cp1251 cp1252 cp1253 "
    "cp1254 cp1255 cp1256 cp1257 cp1258 gbk gb18030 big5 big5hkscs euc-jp iso-2022-jp "
    "shift_jis cp932 euc-kr cp949 ascii latin-1 utf-16 gb2312"
)


def _canonical(label: str) -> str | None:
    import codecs

    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError, TypeError):
        return None


_TEXT_CODECS = frozenset(filter(None, (_canonical(n) for n in _WEB_ENCODINGS.split())))


def text_codec(label: str | None) -> str | None:
    """The Python codec for a declared charset, or None when it is absent, unknown or
    not a text encoding a page may use (then the caller detects the encoding)."""
    if not label or len(label) > 40:
        return None
    name = _canonical(label.strip().strip("\"'"))
    return name if name in _TEXT_CODECS else None
