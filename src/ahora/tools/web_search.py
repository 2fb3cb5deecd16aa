"""The ``web_search`` tool: numbered results with URLs, snippets and dates.

A thin layer over ``ahora.search`` (backends, failover, rate limits, cache). The
artifact's sources are the results, so front ends can list them without parsing.
"""

from __future__ import annotations

from langchain_core.tools import tool

from ahora.search import SearchOutcome, search
from ahora.tools._common import Artifact, Runtime, failures_as_messages, settings_of, source

__all__ = ["web_search"]

MAX_RESULTS = 20
SNIPPET_CHARS = 300


def format_outcome(query: str, outcome: SearchOutcome) -> str:
    """Numbered results, compact, for a model to read."""
    if not outcome.results:
        return f"No results for {query!r}; try other words."
    origin = "; ".join(
        x for x in (f"via {outcome.backend}" if outcome.backend else "", outcome.cache_note()) if x
    )
    lines = [f"Results for {query!r}" + (f" ({origin})" if origin else "") + ":"]
    for n, r in enumerate(outcome.results, start=1):
        snippet = " ".join(r.snippet.split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
        if r.date:
            snippet = f"{snippet} ({r.date})" if snippet else f"({r.date})"
        lines.append(f"{n}. {r.title}\n   {r.url}" + (f"\n   {snippet}" if snippet else ""))
    return "\n".join(lines)


@tool("web_search", parse_docstring=True, response_format="content_and_artifact")
@failures_as_messages
def web_search(query: str, max_results: int = 5, runtime: Runtime = None) -> tuple[str, Artifact]:
    """Search the web for current information: news, facts, prices, schedules, documentation.

    Returns numbered results with title, URL and a snippet. Read a result in full
    with read_page when the snippet is not enough.

    Args:
        query: What to search for, in plain words (for example "Chile election results 2025").
        max_results: How many results to return (1 to 20).
    """
    query = query.strip()
    if not query:
        return "Error: the query is empty; say what to search for.", {
            "sources": [],
            "error": "empty query",
        }
    n = min(max(max_results, 1), MAX_RESULTS)
    outcome = search(query, n, settings=settings_of(runtime))
    sources = [source(r.url, r.title) for r in outcome.results]
    return format_outcome(query, outcome), {"sources": sources}
