"""The failover chain: cache, then each backend in order, one clear message if all fail.

Order comes from settings: the primary backend (``settings.effective_search_backend``)
first, then the other one when it is configured (ddgs always is; SearXNG needs
``AHORA_SEARXNG_URL``). For each backend the chain

1. skips it at once while it is backing off, in this process (its rate limiter) or in
   any other (the back-off recorded in the search store), without waiting,
2. waits for a token from its process-wide limiter (at most ``MAX_WAIT`` seconds),
3. calls it; a ``RateLimited`` error opens a back-off window (kept in memory and in
   the store, so the next ``ahora ask`` leaves the backend alone too), a
   ``BackendError`` is noted, an empty list means "no results here" and the next
   backend gets a chance.

Results are cached for ``settings.search_cache_seconds``, keyed by the normalised
query and ``max_results`` (not by backend: any backend's answer will do): in memory,
and behind it in the SQLite store (``ahora.search.store``) shared by every process
using the same data dir. The store is best effort; when it cannot be used, search
works from memory alone. When every backend fails, ``SearchUnavailable`` carries one
message naming each failure, written for the model; when they are all backing off,
it says for how long.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ahora.errors import BackendError, RateLimited, SearchUnavailable
from ahora.safe_text import no_surrogates
from ahora.search.base import SearchBackend, SearchResult
from ahora.search.limiter import MAX_BACKOFF_SECONDS, limiter_for, reset_limiters
from ahora.search.store import Backoff, StoredResults, reset_stores, store_at
from ahora.settings import Settings

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

STORE_FILE = "search.sqlite"
"""The search store's file name, in ``settings.cache_dir``."""


@dataclass(frozen=True)
class SearchOutcome:
    """What a search produced, and how: ``backend`` answered, ``skipped`` did not.

    ``fetched_at`` is when the backend answered (epoch seconds); ``cached`` says the
    answer came from the cache (this process's or the store) instead of a backend now.
    """

    results: list[SearchResult]
    backend: str | None = None
    skipped: list[str] = field(default_factory=list)
    cached: bool = False
    fetched_at: float | None = None

    def cache_note(self, now: float | None = None) -> str:
        """``"cached, 2 min old"`` for a cached answer, else ``""`` (for the tool's output)."""
        if not self.cached or self.fetched_at is None:
            return ""
        age = max(0.0, (time.time() if now is None else now) - self.fetched_at)
        if age < 60:
            return f"cached, {age:.0f} s old"
        if age < 3600:
            return f"cached, {age // 60:.0f} min old"
        return f"cached, {age / 3600:.1f} h old"


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

    def put(self, key: tuple[str, int], outcome: SearchOutcome, *, age: float = 0.0) -> None:
        """Remember ``outcome``, fetched ``age`` seconds ago (it expires that much sooner)."""
        with self._lock:
            self._data[key] = (self._clock() - age, outcome)
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_cache = _TTLCache(CACHE_ENTRIES)


def reset_search_state() -> None:
    """Forget in-memory results and rate-limit state (as if the process had just started).

    The store's file is left alone: what other processes would see stays there.
    """
    _cache.clear()
    reset_limiters()
    reset_stores()


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


def _scrubbed(result: SearchResult) -> SearchResult:
    """A result without lone surrogates (they fail the store's SQLite write, and later
    every reader of the conversation)."""
    fields = (result.title, result.url, result.snippet, result.date or "")
    if all(no_surrogates(f) is f for f in fields):
        return result
    return replace(
        result,
        title=no_surrogates(result.title),
        url=no_surrogates(result.url),
        snippet=no_surrogates(result.snippet),
        date=no_surrogates(result.date) if result.date else result.date,
    )


def search(
    query: str,
    max_results: int,
    *,
    backends: Sequence[SearchBackend] | None = None,
    settings: Settings,
    clock: Callable[[], float] = time.time,
) -> SearchOutcome:
    """Search with failover. Empty ``results`` means no backend found anything.

    ``clock`` gives wall-clock seconds for the store's expiry and back-off windows.
    Raises ``SearchUnavailable`` when no backend could answer at all.
    """
    query = no_surrogates(query)  # it keys the store: SQLite cannot encode a lone one
    chain = list(backends) if backends is not None else backends_from_settings(settings)
    # The same words put to other services are another question: agents with their
    # own SearXNG (their own settings) must not get each other's cached answers.
    where = ",".join(b.name for b in chain)
    key = (f"{where}\n{' '.join(query.split()).casefold()}", max_results)
    store = store_at(settings.cache_dir / STORE_FILE)
    ttl = settings.search_cache_seconds
    if ttl > 0:
        hit = _cache.get(key, ttl)
        if hit is not None:
            return replace(hit, skipped=[], cached=True)
        now = clock()
        stored = store.load(key, fresh_after=now - ttl)
        if stored is not None:
            outcome = SearchOutcome(stored.results, stored.backend, fetched_at=stored.fetched_at)
            _cache.put(key, outcome, age=max(0.0, now - stored.fetched_at))
            return replace(outcome, cached=True)

    failures: list[str] = []
    answered_empty: list[str] = []
    backing_off: dict[str, float] = {}  # backend name -> seconds left
    for backend in chain:
        limiter = limiter_for(
            backend.name,
            rate_per_second=backend.rate_per_second,
            burst=backend.burst,
            backoff_seconds=backend.backoff_seconds,
        )
        recorded = store.backoff(backend.name)
        blocked = max(limiter.blocked_for(), recorded.until - clock() if recorded else 0.0)
        if blocked > 0:
            backing_off[backend.name] = blocked
            failures.append(
                f"{backend.name} rate-limited (backing off, {math.ceil(blocked)} s left)"
            )
            continue
        wait = limiter.acquire(MAX_WAIT)
        if wait is None:
            failures.append(f"{backend.name} busy (its rate limit allows no call for a while)")
            continue
        if wait > 0:
            time.sleep(wait)
        try:
            results = [_scrubbed(r) for r in backend.search(query, max_results)]
        except RateLimited as exc:
            window = limiter.back_off(exc.retry_after)
            now = clock()
            if exc.retry_after is None and recorded and now - recorded.until < MAX_BACKOFF_SECONDS:
                # Rate-limited again soon after another process's window: keep doubling.
                window = max(window, min(recorded.penalty * 2, MAX_BACKOFF_SECONDS))
            store.set_backoff(backend.name, Backoff(now + window, window))
            failures.append(f"{backend.name} {exc}")
            continue
        except BackendError as exc:
            failures.append(f"{backend.name} {exc}")
            continue
        limiter.succeeded()
        if recorded is not None:
            store.clear_backoff(backend.name)
        if results:
            now = clock()
            outcome = SearchOutcome(
                results[:max_results], backend.name, failures + answered_empty, fetched_at=now
            )
            if ttl > 0:
                _cache.put(key, outcome)
                stored = StoredResults(outcome.results, backend.name, now)
                store.save(key, stored, drop_before=now - ttl)
            return outcome
        answered_empty.append(f"{backend.name} found nothing")

    if answered_empty:
        return SearchOutcome([], None, failures + answered_empty)
    if chain and len(backing_off) == len(chain):
        raise SearchUnavailable(
            f"web search is rate-limited for {math.ceil(min(backing_off.values()))} more"
            " seconds (backing off: "
            + ", ".join(f"{name} {math.ceil(left)} s" for name, left in backing_off.items())
            + "). Try again after that, or answer from what you know, saying so."
        )
    raise SearchUnavailable(
        "web search is unavailable right now: "
        + "; ".join(failures or ["no search backend is configured"])
        + ". Try again later or answer from what you know, saying so."
    )
