"""``read_page``: fetch a web page a model chose and give back its main text as Markdown.

Three steps, each a plain function so they can be tested and measured on their own:

- fetching goes through :func:`ahora.http.fetch_guarded` (private-address guard on every
  redirect hop, byte and wall-time caps, no response cache);
- :func:`ahora.pages.extract_main_text` turns HTML into Markdown with trafilatura
  (menus, cookie banners, footers, sidebars and scripts dropped), falling back to a
  recall-oriented pass and then to the page's visible text when trafilatura finds
  nothing. It runs in a worker process (:mod:`ahora.worker`) that is killed when the
  tool's time is up, so a hostile page cannot keep parsing after the tool timed out or
  hold the program at exit. ``benchmarks/bench_extraction.py`` imports it, so the
  benchmark measures exactly what the tool does;
- :func:`render_page` cuts ``settings.page_chars`` characters starting at ``start``
  (at a line or word break when one is near) and says how to ask for the rest.

Links are not kept: on the benchmark corpus they add about 15% more characters
for the same snippet F1, and the model can search for what it wants to read next.
A few recently extracted pages are kept in memory (a few minutes) so that paging
through a long page with ``start`` neither downloads it again nor sees it shift.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from langchain_core.tools import tool

from ahora import netguard, worker
from ahora.errors import ToolFailure
from ahora.http import call_budget, fetch_guarded
from ahora.pages import Extracted, extract_main_text, text_codec, tidy
from ahora.tools._common import Artifact, Runtime, failures_as_messages, settings_of, source

__all__ = ["Extracted", "extract_main_text", "read_page", "render_page"]

#: Longest time spent extracting one page's text, in seconds (real pages: under 1 s).
EXTRACT_SECONDS = 4.0

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


def _warming(settings: Any) -> Callable[[str, int], list[str]]:
    """The OS resolver, warming the parser's worker once a host's addresses pass the
    address guard's test: a refused URL starts no process."""

    def resolve(host: str, port: int) -> list[str]:
        addresses = netguard.system_resolver(host, port)
        if settings.allow_private_urls or all(_public(a) for a in addresses):
            worker.warm(preload="ahora.pages")
        return addresses

    return resolve


def _public(address: str) -> bool:
    try:
        return netguard.address_problem(address) is None
    except ValueError:
        return False


def _load(url: str, settings: Any) -> tuple[str, Extracted]:
    """Fetch and extract, or reuse a recent extraction of the same URL."""
    key = (url, settings.allow_private_urls, settings.page_max_bytes)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < _CACHE_SECONDS:
            _cache.move_to_end(key)
            return hit[1], hit[2]
    # The tool's work never outlives the tool: fetch and extraction share one budget.
    budget = call_budget(settings)
    deadline = time.monotonic() + budget
    resolver = _warming(settings)  # the worker starts while the page downloads
    fetched = fetch_guarded(url, settings=settings, timeout=budget, resolver=resolver)
    host = _host(fetched.final_url)
    if fetched.status >= 400:
        raise ToolFailure(f"{fetched.final_url} answered HTTP {_status(fetched.status)}")
    kind = _kind(fetched.content_type, fetched.body)
    codec = text_codec(fetched.encoding)
    if kind == "html":
        seconds = min(EXTRACT_SECONDS, deadline - time.monotonic())
        page = _extract(fetched.body, codec, fetched.final_url, seconds=seconds)
    else:
        text = fetched.body.decode(codec or _detect(fetched.body), errors="replace")
        page = Extracted(title="", text=tidy(text))
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


def _extract(body: bytes, codec: str | None, url: str, *, seconds: float) -> Extracted:
    """Extract in a worker process that is killed after ``seconds``."""
    if seconds <= 0:
        raise ToolFailure(f"no time was left to extract the text of {url}")
    try:
        found = worker.run(
            "ahora.pages:extract_for_worker",
            body,
            seconds=seconds,
            preload="ahora.pages",
            url=url,
            encoding=codec,
        )
    except worker.WorkerTimeout as exc:
        raise ToolFailure(
            f"the page at {url} is too complex to read: extracting its text took longer "
            f"than {seconds:g} seconds, so it was stopped; try another source"
        ) from exc
    except MemoryError as exc:
        raise ToolFailure(
            f"the page at {url} is too complex to read: extracting its text needed more "
            f"than {worker.DEFAULT_MEMORY // 2**20} MB, so it was stopped; try another source"
        ) from exc
    except (worker.WorkerCrashed, RuntimeError, OSError) as exc:
        raise ToolFailure(f"could not extract the text of {url} ({exc})") from exc
    return Extracted(title=str(found["title"]), text=str(found["text"]))


def _detect(body: bytes) -> str:
    """The encoding of undeclared (or wrongly declared) text: UTF-8 when it decodes,
    else what charset-normalizer guesses from the first 64 KB, if it is a text codec."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(body[:65_536]).best()
        return text_codec(best.encoding if best else None) or "cp1252"
    return "utf-8"


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
