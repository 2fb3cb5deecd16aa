"""The one HTTP layer every tool uses.

One place for timeouts, retries with backoff on 429/5xx (honouring Retry-After),
an honest User-Agent, a SQLite-backed response cache (requests-cache) and the
private-address guard for URLs that come from a model.
"""

from __future__ import annotations

import threading
from typing import Any

import requests

from ahora.__about__ import __version__
from ahora.errors import ToolFailure
from ahora.settings import Settings, get_settings

__all__ = ["USER_AGENT", "get", "get_json", "session"]

USER_AGENT = f"ahora/{__version__} (+https://github.com/ahora-agents/ahora; tool-using agent)"

_lock = threading.Lock()
_sessions: dict[tuple[Any, ...], requests.Session] = {}


def session(settings: Settings | None = None) -> requests.Session:
    """A shared session for these settings: cache, retries and User-Agent set up."""
    s = settings or get_settings()
    key = (str(s.cache_dir), s.http_retries, s.http_cache_seconds)
    with _lock:
        if key not in _sessions:
            _sessions[key] = _build_session(s)
        return _sessions[key]


def _build_session(s: Settings) -> requests.Session:
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    sess: requests.Session
    try:
        import requests_cache

        s.cache_dir.mkdir(parents=True, exist_ok=True)
        sess = requests_cache.CachedSession(
            str(s.cache_dir / "http"),
            backend="sqlite",
            expire_after=s.http_cache_seconds,
            allowable_codes=(200,),
            stale_if_error=False,
        )
    except OSError:
        # A read-only or missing data dir must not stop the tools: run uncached.
        sess = requests.Session()
    retry = Retry(
        total=s.http_retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
    sess.mount("http://", adapter)
    sess.mount("https://", adapter)
    sess.headers["User-Agent"] = USER_AGENT
    return sess


def get(
    url: str,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    settings: Settings | None = None,
) -> requests.Response:
    """GET through the shared session; network failures become ``ToolFailure``."""
    s = settings or get_settings()
    try:
        return session(s).get(url, params=params, headers=headers, timeout=timeout or s.http_timeout)
    except requests.Timeout as exc:
        raise ToolFailure(f"the request to {_host(url)} timed out") from exc
    except requests.ConnectionError as exc:
        raise ToolFailure(f"could not connect to {_host(url)} (network down or host unreachable)") from exc
    except requests.RequestException as exc:
        raise ToolFailure(f"the request to {_host(url)} failed: {exc}") from exc


def get_json(url: str, **kwargs: Any) -> Any:
    """GET and decode JSON; HTTP errors raise ``ToolFailure`` with the service's reason."""
    resp = get(url, **kwargs)
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code >= 400:
        reason = data.get("reason") if isinstance(data, dict) else None
        raise ToolFailure(f"{_host(url)} answered HTTP {resp.status_code}" + (f": {reason}" if reason else ""))
    if data is None:
        raise ToolFailure(f"{_host(url)} did not answer with JSON")
    return data


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url
