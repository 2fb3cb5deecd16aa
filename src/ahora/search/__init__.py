"""Web search that survives rate limits: backends behind one small seam, plus a failover chain.

    base.py          SearchResult, the SearchBackend seam (one abstract method), BackendError
    ddgs_backend.py  the ddgs metasearch library (no key; rate-limits after a few queries)
    searxng.py       a SearXNG instance's JSON API (self-hosted; JSON must be enabled)
    limiter.py       one process-wide rate limiter per backend, with back-off
    store.py         SQLite file shared by processes: cached results, back-off windows
    chain.py         cache, then each backend in turn; one clear message when all fail

``web_search`` (ahora.tools.web_search) is a thin tool over ``search()``. Heavy imports
(ddgs) happen only when the ddgs backend actually runs.
"""

from __future__ import annotations

from ahora.search.base import BackendError, RateLimited, SearchBackend, SearchResult
from ahora.search.chain import (
    SearchOutcome,
    SearchUnavailable,
    backends_from_settings,
    reset_search_state,
    search,
)

__all__ = [
    "BackendError",
    "RateLimited",
    "SearchBackend",
    "SearchOutcome",
    "SearchResult",
    "SearchUnavailable",
    "backends_from_settings",
    "reset_search_state",
    "search",
]
