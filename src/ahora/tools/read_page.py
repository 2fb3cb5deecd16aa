"""``read_page``: fetch a web page a model chose and give back its main text as Markdown.

Three steps, each a plain function so they can be tested and measured on their own:

- fetching goes through :func:`ahora.http.fetch_guarded` (private-address guard on every
  redirect hop, byte and wall-time caps, no response cache);
- :func:`extract_main_text` turns HTML into Markdown with trafilatura (menus, cookie
  banners, footers, sidebars and scripts dropped), falling back to a recall-oriented
  pass and then to the page's visible text when trafilatura finds nothing.
  ``benchmarks/bench_extraction.py`` imports it, so the benchmark measures exactly
  what the tool does;
- :func:`render_page` cuts ``settings.page_chars`` characters starting at ``start``
  (at a line or word break when one is near) and says how to ask for the rest.

Links are not kept: on the benchmark corpus they add about 15% more characters
for the same snippet F1, and the model can search for what it wants to read next.
A few recently extracted pages are kept in memory (a few minutes) so that paging
through a long page with ``start`` neither downloads it again nor sees it shift.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from langchain_core.tools import tool

from ahora.errors import ToolFailure
from ahora.http import fetch_guarded
from ahora.tools._common import Artifact, Runtime, failures_as_messages, settings_of, source

__all__ = ["Extracted", "extract_main_text", "read_page", "render_page"]

# Media types read_page turns into text, and how.
_KINDS = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/markdown": "text",
    "text/csv": "text",
    "application/json": "text",
    "application/ld+json": "text",
    "application/xml": "text",
    "text/xml": "text",
    "application/rss+xml": "text",
    "application/atom+xml": "text",
}

_CACHE_SECONDS = 300.0
_CACHE_SIZE = 16
_cache: OrderedDict[tuple[Any, ...], tuple[float, str, Extracted]] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Extracted:
    """The readable part of a page."""

    title: str
    text: str


def extract_main_text(html: str | bytes, url: str | None = None) -> Extracted:
    """The page's main content as Markdown, plus its title.

    trafilatura's precision-balanced extraction first; when that finds nothing, its
    recall mode; when that too finds nothing, the visible text of the whole page
    (scripts, styles, navigation and footers removed).
    """
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return Extracted(title="", text="")
    title = _title(tree)
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
    return Extracted(title=title, text=_tidy(text))


def render_page(title: str, url: str, text: str, *, start: int, limit: int) -> str:
    """``Title/URL`` header plus ``limit`` characters of ``text`` from ``start``, and a
    note saying how to continue when more remains."""
    total = len(text)
    if start >= total > 0:
        raise ToolFailure(
            f"start={start} is past the end of the page, which has {total:,} characters"
        )
    end = _cut(text, start, limit)
    header = f"Title: {title or '(untitled)'}\nURL: {url}\n"
    if start > 0:
        header += f"(characters {start:,} to {end:,} of {total:,})\n"
    body = text[start:end].strip()
    note = ""
    if end < total:
        note = (
            f"\n\n[... {total - end:,} more characters; "
            f"call read_page with start={end} to continue]"
        )
    return f"{header}\n{body}{note}"


@tool("read_page", response_format="content_and_artifact", parse_docstring=True)
@failures_as_messages
def read_page(url: str, start: int = 0, runtime: Runtime = None) -> tuple[str, Artifact]:
    """Read a public web page and return its main text as Markdown.

    Use it to read a page found with web_search, or any http(s) address the user
    gives. Long pages come in parts: the reply ends with a note giving the start
    value for the next part.

    Args:
        url: The full address of the page, starting with http:// or https://.
        start: Character offset to continue from (0 for the beginning); use the value
            given in the previous part's note.
    """
    if start < 0:
        raise ToolFailure("start must be 0 or more")
    settings = settings_of(runtime)
    final_url, page = _load(url, settings)
    text = render_page(page.title, final_url, page.text, start=start, limit=settings.page_chars)
    return text, {"sources": [source(final_url, page.title)]}


def _load(url: str, settings: Any) -> tuple[str, Extracted]:
    """Fetch and extract, or reuse a recent extraction of the same URL."""
    key = (url, settings.allow_private_urls, settings.page_max_bytes)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < _CACHE_SECONDS:
            _cache.move_to_end(key)
            return hit[1], hit[2]
    fetched = fetch_guarded(url, settings=settings)
    host = _host(fetched.final_url)
    if fetched.status >= 400:
        raise ToolFailure(f"{fetched.final_url} answered HTTP {_status(fetched.status)}")
    kind = _kind(fetched.content_type, fetched.body)
    if kind == "html":
        page = extract_main_text(_decode_html(fetched.body, fetched.encoding), fetched.final_url)
    else:
        text = fetched.body.decode(fetched.encoding or "utf-8", errors="replace")
        page = Extracted(title="", text=_tidy(text))
    if not page.text.strip():
        raise ToolFailure(
            f"the page at {fetched.final_url} has no readable text "
            "(it may be empty or need JavaScript); try another source"
        )
    if not page.title:
        page = Extracted(title=host, text=page.text)
    with _cache_lock:
        _cache[key] = (now, fetched.final_url, page)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return fetched.final_url, page


def _kind(content_type: str, body: bytes) -> str:
    """ "html" or "text", or raise ``ToolFailure`` naming what the URL is instead."""
    if content_type in _KINDS:
        return _KINDS[content_type]
    if content_type.startswith("text/"):
        return "text"
    head = body[:1024].lstrip().lower()
    if not content_type or content_type in ("application/octet-stream", "binary/octet-stream"):
        if head.startswith(b"%pdf"):
            content_type = "application/pdf"
        elif head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
            return "html"
        elif b"\x00" not in head:
            try:
                body[:4096].decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                return "text"
    if content_type == "application/pdf":
        what = "a PDF document"
    elif content_type.startswith("image/"):
        what = "an image"
    elif content_type.startswith(("audio/", "video/")):
        what = "audio or video"
    else:
        what = f"{content_type or 'binary'} content"
    raise ToolFailure(
        f"the URL points to {what} ({content_type or 'unknown type'}), which read_page "
        "cannot read; look for an HTML page with the same information"
    )


def _decode_html(body: bytes, encoding: str | None) -> str | bytes:
    """Decode with the declared charset; without one, let trafilatura detect it."""
    if not encoding:
        return body
    try:
        return body.decode(encoding, errors="replace")
    except LookupError:
        return body


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


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _cut(text: str, start: int, limit: int) -> int:
    """Where a part that begins at ``start`` ends: at most ``limit`` characters later,
    pulled back to a paragraph, line or word break in the last fifth when there is one."""
    end = min(start + max(limit, 1), len(text))
    if end >= len(text):
        return len(text)
    floor = start + (limit * 4) // 5
    for sep in ("\n\n", "\n", " "):
        at = text.rfind(sep, floor, end)
        if at > start:
            return at + len(sep)
    return end


def _status(code: int) -> str:
    try:
        return f"{code} ({HTTPStatus(code).phrase.lower()})"
    except ValueError:
        return str(code)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url
