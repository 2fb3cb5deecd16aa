"""The search seam: a result type, one abstract method, and the errors a backend may raise.

A backend turns ``(query, max_results)`` into a list of ``SearchResult``. An empty
list means "no results"; anything else that goes wrong is a ``BackendError``
(``RateLimited`` when the service asked us to slow down) so the chain can fall over
to the next backend and say why.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ahora.errors import BackendError, RateLimited

__all__ = ["BackendError", "RateLimited", "SearchBackend", "SearchResult"]


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One hit, the same shape whichever backend found it."""

    title: str
    url: str
    snippet: str = ""
    date: str | None = None
    backend: str = ""


class SearchBackend(ABC):
    """A place to search. ``name`` labels it in messages and keys its rate limiter.

    The class attributes size that limiter (see ``ahora.search.limiter``): a burst of
    ``burst`` calls, then ``rate_per_second``; after a rate limit, stay away for
    ``backoff_seconds``, doubling while it lasts.
    """

    name: str = "search"
    rate_per_second: float = 1.0
    burst: int = 3
    backoff_seconds: float = 10.0

    @abstractmethod
    def search(self, query: str, max_results: int) -> list[SearchResult]:
        """Up to ``max_results`` hits (``[]`` for none); ``BackendError`` on failure."""
