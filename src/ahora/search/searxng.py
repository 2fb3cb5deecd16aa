"""The SearXNG backend: ``GET {base}/search?q=...&format=json`` on an instance you run.

Facts that shape this module: JSON must be enabled in the instance's settings
(``search.formats``), otherwise the answer is HTTP 403; when every engine fails the
answer is still 200, with empty ``results`` and the culprits in
``unresponsive_engines``; there is no result-count parameter, so we slice.

Requests bypass the shared HTTP cache (``Cache-Control: no-store``): search results
are cached by the chain for ``search_cache_seconds``, the one knob for that.
"""

from __future__ import annotations

from typing import Any

from ahora import http
from ahora.errors import ToolFailure
from ahora.search.base import BackendError, RateLimited, SearchBackend, SearchResult
from ahora.settings import Settings

__all__ = ["SearXNGBackend"]


class SearXNGBackend(SearchBackend):
    """Search a SearXNG instance through its JSON API."""

    rate_per_second = 2.0
    burst = 5
    backoff_seconds = 5.0

    def __init__(self, base_url: str, *, settings: Settings) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = f"SearXNG at {self.base_url}"
        self._settings = settings

    def search(self, query: str, max_results: int) -> list[SearchResult]:
        url = f"{self.base_url}/search"
        try:
            resp = http.get(
                url,
                params={"q": query, "format": "json"},
                headers={"Cache-Control": "no-store", "Accept": "application/json"},
                settings=self._settings,
            )
        except ToolFailure as exc:
            raise BackendError(f"unreachable ({exc})") from exc
        if resp.status_code == 403:
            raise BackendError(
                "refused JSON (HTTP 403): JSON output is disabled in the instance's settings;"
                " add 'json' to search.formats in settings.yml"
            )
        if resp.status_code == 429:
            raise RateLimited("rate-limited (HTTP 429)", retry_after=_retry_after(resp.headers))
        if resp.status_code >= 400:
            raise BackendError(f"answered HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise BackendError("did not answer with SearXNG's JSON")
        converted = (
            _convert(item, self.name) for item in data["results"] if isinstance(item, dict)
        )
        results = [r for r in converted if r is not None]
        if not results and data.get("unresponsive_engines"):
            raise BackendError(
                "has no working engines right now ("
                + _unresponsive(data["unresponsive_engines"])
                + ")"
            )
        return results[:max_results]


def _convert(item: dict[str, Any], backend: str) -> SearchResult | None:
    url = item.get("url")
    if not url:
        return None
    date = item.get("publishedDate")
    return SearchResult(
        title=str(item.get("title") or url),
        url=str(url),
        snippet=str(item.get("content") or ""),
        date=str(date)[:10] if date else None,
        backend=backend,
    )


def _unresponsive(engines: Any) -> str:
    """``[["google", "timeout"], ["duckduckgo", "CAPTCHA"]]`` -> ``google: timeout, ...``."""
    parts = []
    for entry in engines if isinstance(engines, list) else []:
        if isinstance(entry, list | tuple) and len(entry) >= 2:
            parts.append(f"{entry[0]}: {entry[1]}")
        else:
            parts.append(str(entry))
    return ", ".join(parts) or "unknown"


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers.get("Retry-After"))
    except (TypeError, ValueError):
        return None
