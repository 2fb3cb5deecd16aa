"""A local tool: search Wikipedia's articles (the MediaWiki search API, no key).

``GET {wikipedia_url}/w/api.php?action=query&list=search&srsearch=...&format=json``
answers ``{"query": {"searchinfo": {...}, "search": [{"title", "pageid", "snippet",
"timestamp", ...}]}}``. Snippets are HTML (matches wrapped in
``<span class="searchmatch">``), so tags are stripped and entities decoded. API errors
come back as HTTP 200 with an ``"error"`` object. Wikimedia asks every client for a
descriptive User-Agent; ``ahora.http`` sends one.

Point ``AHORA_WIKIPEDIA_URL`` at another language (``https://es.wikipedia.org``) or
any MediaWiki site.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

from langchain_core.tools import tool

from ahora import http
from ahora.errors import ToolFailure
from ahora.settings import get_settings
from ahora.tools._common import Artifact, Source, failures_as_messages, source

__all__ = ["wikipedia"]

MAX_RESULTS = 10
_TAG = re.compile(r"<[^>]+>")


def clean_snippet(snippet: str) -> str:
    """Search-result HTML as plain text."""
    return " ".join(html.unescape(_TAG.sub("", snippet)).split())


def article_url(base: str, title: str) -> str:
    return f"{base}/wiki/{quote(title.replace(' ', '_'), safe='/:(),')}"


@tool("wikipedia", parse_docstring=True, response_format="content_and_artifact")
@failures_as_messages
def wikipedia(query: str, limit: int = 5) -> tuple[str, Artifact]:
    """Search Wikipedia and list the matching articles with a short excerpt of each.

    Good for background facts about people, places, events and concepts; for news
    of the last days prefer web search.

    Args:
        query: What to look for, in a few words.
        limit: How many articles to list (1 to 10).
    """
    if not query.strip():
        raise ToolFailure("the query is empty; say what to look for")
    base = get_settings().wikipedia_url.rstrip("/")
    params = {
        "action": "query",
        "list": "search",
        "srsearch": query.strip(),
        "srlimit": str(min(max(limit, 1), MAX_RESULTS)),
        "format": "json",
    }
    try:
        data: Any = http.get_json(f"{base}/w/api.php", params=params, settings=get_settings())
    except ToolFailure as exc:
        raise ToolFailure(f"Wikipedia search failed: {exc}") from exc
    if not isinstance(data, dict):
        raise ToolFailure("Wikipedia sent a malformed reply")
    if isinstance(data.get("error"), dict):
        info = data["error"].get("info") or data["error"].get("code") or "unknown error"
        raise ToolFailure(f"Wikipedia refused the search: {info}")
    found = data.get("query", {})
    results = found.get("search") if isinstance(found, dict) else None
    if not isinstance(results, list):
        raise ToolFailure("Wikipedia sent a malformed reply (no query.search)")
    if not results:
        suggestion = (found.get("searchinfo") or {}).get("suggestion")
        hint = f" Did you mean {suggestion!r}?" if suggestion else " Try other words."
        return f"No Wikipedia article matches {query.strip()!r}.{hint}", {"sources": []}
    lines: list[str] = []
    sources: list[Source] = []
    for i, r in enumerate(results, 1):
        title = str(r.get("title", "")).strip() or f"page {r.get('pageid')}"
        url = article_url(base, title)
        updated = str(r.get("timestamp", ""))[:10]
        when = f" (last edited {updated})" if updated else ""
        lines.append(f"{i}. {title}{when}: {clean_snippet(str(r.get('snippet', '')))}\n   {url}")
        sources.append(source(url, f"{title} - Wikipedia"))
    return "\n".join(lines), {"sources": sources}
