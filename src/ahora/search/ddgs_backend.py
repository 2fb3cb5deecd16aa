"""The ddgs backend: the ``ddgs`` metasearch library (successor of duckduckgo-search).

No key and no server to run, which makes it the default, but its engines rate-limit
after a few queries (HTTP 202 from DuckDuckGo, ``RatelimitException``). We try
``backend="auto"`` first, then a short list of named engines, and report rate limits
as ``RateLimited`` so the chain backs off and falls over.

ddgs reaches fixed engine URLs, so the client is injectable: tests (and anyone
wanting a proxy or a different client) pass ``client_factory`` or replace the
module-level ``ddgs_client_factory``. A factory is called like ``ddgs.DDGS``
(``proxy=None, timeout=5, *, verify=True``); the result needs a ``text`` method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ahora.search.base import BackendError, RateLimited, SearchBackend, SearchResult

__all__ = ["DDGSBackend", "DDGSClient", "ddgs_client_factory"]

_RATE_LIMIT_HINTS = ("ratelimit", "rate limit", "202", "429", "too many requests")


class DDGSClient(Protocol):
    """What we use of ``ddgs.DDGS``."""

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]: ...


def _real_ddgs(proxy: str | None = None, timeout: int | None = 5, **kwargs: Any) -> DDGSClient:
    from ddgs import DDGS

    client: DDGSClient = DDGS(proxy=proxy, timeout=timeout, **kwargs)
    return client


ddgs_client_factory: Callable[..., DDGSClient] = _real_ddgs
"""Builds the ddgs client; replace it to inject a fake or a configured client."""


class DDGSBackend(SearchBackend):
    """Search with ddgs, trying each engine selection in ``engines`` in turn."""

    rate_per_second = 0.5
    burst = 3
    backoff_seconds = 15.0

    def __init__(
        self,
        *,
        timeout: int = 10,
        engines: Sequence[str] = ("auto", "duckduckgo,brave,mojeek"),
        client_factory: Callable[..., DDGSClient] | None = None,
    ) -> None:
        self.name = "ddgs"
        self.timeout = timeout
        self.engines = tuple(engines)
        self._client_factory = client_factory

    def search(self, query: str, max_results: int) -> list[SearchResult]:
        from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

        factory = self._client_factory or ddgs_client_factory
        client = factory(timeout=self.timeout)
        problems: list[tuple[str, str]] = []  # (engines, what happened)
        for engines in self.engines:
            try:
                raw = client.text(query, max_results=max_results, backend=engines)
            except RatelimitException:
                problems.append((engines, "rate-limited"))
            except TimeoutException:
                problems.append((engines, "timed out"))
            except DDGSException as exc:
                problems.append((engines, _classify(str(exc))))
            else:
                return _convert(raw, max_results, self.name)
        kinds = {kind for _, kind in problems}
        if kinds == {"no results"}:
            return []
        if kinds == {"rate-limited"}:
            raise RateLimited("rate-limited (HTTP 202)")
        detail = "; ".join(f"{engines}: {kind}" for engines, kind in problems)
        if "rate-limited" in kinds:
            raise RateLimited(f"rate-limited ({detail})")
        raise BackendError(f"failed ({detail})")


def _classify(message: str) -> str:
    low = message.lower()
    if any(hint in low for hint in _RATE_LIMIT_HINTS):
        return "rate-limited"
    if "no results" in low:
        return "no results"
    if "timed out" in low or "timeout" in low:
        return "timed out"
    return message


def _convert(raw: list[dict[str, Any]], max_results: int, backend: str) -> list[SearchResult]:
    results = []
    for item in raw:
        url = item.get("href") or item.get("url")
        if not url:
            continue
        results.append(
            SearchResult(
                title=str(item.get("title") or url),
                url=str(url),
                snippet=str(item.get("body") or ""),
                date=str(item["date"]) if item.get("date") else None,
                backend=backend,
            )
        )
    return results[:max_results]
