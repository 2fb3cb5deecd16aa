"""The failover chain: cache, then each backend in order, one clear message if all fail.

Order comes from settings: the primary backend (``settings.effective_search_backend``)
first, then the other one when it is configured (ddgs always is; SearXNG needs
``AHORA_SEARXNG_URL``). For each backend the chain

1. skips it at once while its rate limiter is backing off (no waiting),
2. waits for a token from its process-wide limiter (at most ``MAX_WAIT`` seconds),
3. calls it; a ``RateLimited`` error opens a back-off window, a ``BackendError`` is noted,
   an empty list means "no results here" and the next backend gets a chance.

Results are cached in-process for ``settings.search_cache_seconds``, keyed by the
normalised query and ``max_results`` (not by backend: any backend's answer will do).
When every backend fails, ``SearchUnavailable`` carries one message naming each
failure, written for the model.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ahora.errors import ToolFailure
from ahora.search.base import BackendError, RateLimited, SearchBackend, SearchResult
from ahora.search.limiter import limiter_for, reset_limiters
from ahora.settings import Settings, get_settings

__all__ = [
    "SearchOutcome",
    "SearchUnavailable",
    "backends_from_settings",
    "reset_search_state",
    "search",
]

MAX_WAIT = 5.0
"""Longest we sleep for a rate-limiter token before moving on to the next backend."""

CACHE_ENTRIES = 256


class SearchUnavailable(ToolFailure):
    """Every backend failed; the message names each failure and what the model can do."""


@dataclass(frozen=True)
class SearchOutcome:
    """What a search produced, and how: ``backend`` answered, ``skipped`` did not."""

    results: list[SearchResult]
    backend: str | None = None
    skipped: list[str] = field(default_factory=list)
    cached: bool = False


class _TTLCache:
    """A small thread-safe dict with expiry and a size cap (oldest entries go first)."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, int], tuple[float, SearchOutcome]] = OrderedDict()

    def get(self, key: tuple[str, int], ttl: float) -> SearchOutcome | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            stored_at, outcome = hit
            if self._clock() - stored_at > ttl:
                del self._data[key]
                return None
            return outcome

    def put(self, key: tuple[str, int], outcome: SearchOutcome) -> None:
        with self._lock:
            self._data[key] = (self._clock(), outcome)
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_cache = _TTLCache(CACHE_ENTRIES)


def reset_search_state() -> None:
    """Forget cached results and rate-limit state (as if the process had just started)."""
    _cache.clear()
    reset_limiters()


def backends_from_settings(settings: Settings) -> list[SearchBackend]:
    """The chain for these settings: the primary backend, then the other if configured."""
    from ahora.search.ddgs_backend import DDGSBackend
    from ahora.search.searxng import SearXNGBackend

    ddgs = DDGSBackend(timeout=max(1, min(10, int(settings.http_timeout))))
    if not settings.searxng_url:
        return [ddgs]
    searxng = SearXNGBackend(settings.searxng_url, settings=settings)
    if settings.effective_search_backend == "searxng":
        return [searxng, ddgs]
    return [ddgs, searxng]


def search(
    query: str,
    max_results: int,
    *,
    backends: Sequence[SearchBackend] | None = None,
    settings: Settings | None = None,
) -> SearchOutcome:
    """Search with failover. Empty ``results`` means no backend found anything.

    Raises ``SearchUnavailable`` when no backend could answer at all.
    """
    s = settings or get_settings()
    chain = list(backends) if backends is not None else backends_from_settings(s)
    key = (" ".join(query.split()).casefold(), max_results)
    if s.search_cache_seconds > 0:
        hit = _cache.get(key, s.search_cache_seconds)
        if hit is not None:
            return SearchOutcome(hit.results, hit.backend, [], cached=True)

    failures: list[str] = []
    answered_empty: list[str] = []
    for backend in chain:
        limiter = limiter_for(
            backend.name,
            rate_per_second=backend.rate_per_second,
            burst=backend.burst,
            backoff_seconds=backend.backoff_seconds,
        )
        blocked = limiter.blocked_for()
        if blocked > 0:
            failures.append(f"{backend.name} rate-limited (backing off, {blocked:.0f} s left)")
            continue
        wait = limiter.acquire(MAX_WAIT)
        if wait is None:
            failures.append(f"{backend.name} busy (its rate limit allows no call for a while)")
            continue
        if wait > 0:
            time.sleep(wait)
        try:
            results = backend.search(query, max_results)
        except RateLimited as exc:
            limiter.back_off(exc.retry_after)
            failures.append(f"{backend.name} {exc}")
            continue
        except BackendError as exc:
            failures.append(f"{backend.name} {exc}")
            continue
        limiter.succeeded()
        if results:
            outcome = SearchOutcome(results[:max_results], backend.name, failures + answered_empty)
            if s.search_cache_seconds > 0:
                _cache.put(key, outcome)
            return outcome
        answered_empty.append(f"{backend.name} found nothing")

    if answered_empty:
        return SearchOutcome([], None, failures + answered_empty)
    raise SearchUnavailable(
        "web search is unavailable right now: "
        + "; ".join(failures or ["no search backend is configured"])
        + ". Try again later or answer from what you know, saying so."
    )
