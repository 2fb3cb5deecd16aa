"""The one HTTP layer every tool uses.

One place for timeouts, retries with backoff on 429/5xx (honouring Retry-After, capped
at ``RETRY_AFTER_MAX`` seconds so a server cannot park a tool for an hour), an honest
User-Agent, a SQLite-backed response cache (requests-cache) and, for URLs that come
from a model, :func:`fetch_guarded`.

``get``/``get_json`` are for services the developer configured (search, weather...).
``fetch_guarded`` is for addresses a model chose (read_page): it runs the
private-address guard (:mod:`ahora.netguard`) on every hop, connects to the address it
checked (no second DNS lookup), follows at most ``MAX_REDIRECTS`` redirects itself and
caps bytes (after decompression) and wall time. It deliberately bypasses the response
cache: the cache is shared with ``get``, which may legitimately reach intranet services,
and a cached answer must never stand in for a guarded fetch. It also ignores proxy
environment variables: through a proxy the guard could not know where it connects.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from ahora.__about__ import __version__
from ahora.errors import ToolFailure
from ahora.settings import Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Collection

    from urllib3.connection import HTTPConnection
    from urllib3.response import HTTPResponse
    from urllib3.util.retry import Retry

    from ahora.netguard import Resolver, Target

__all__ = [
    "MAX_REDIRECTS",
    "RETRY_AFTER_MAX",
    "USER_AGENT",
    "Fetched",
    "fetch_guarded",
    "get",
    "get_json",
    "session",
]

USER_AGENT = f"ahora/{__version__} (+https://github.com/ahora-agents/ahora; tool-using agent)"

#: Longest wait honoured from a Retry-After header, in seconds.
RETRY_AFTER_MAX = 10.0
#: Redirects ``fetch_guarded`` follows before giving up.
MAX_REDIRECTS = 5
#: What read_page asks for.
PAGE_ACCEPT = (
    "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,"
    "application/xml;q=0.7,*/*;q=0.1"
)

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
    retry = _capped_retry_class()(
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


def _capped_retry_class() -> type[Retry]:
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        """urllib3's Retry, but a Retry-After header waits at most ``RETRY_AFTER_MAX``."""

        def parse_retry_after(self, retry_after: str) -> float:
            return min(super().parse_retry_after(retry_after), RETRY_AFTER_MAX)

    return CappedRetry


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
        return session(s).get(
            url, params=params, headers=headers, timeout=timeout or s.http_timeout
        )
    except requests.Timeout as exc:
        raise ToolFailure(f"the request to {_host(url)} timed out") from exc
    except requests.ConnectionError as exc:
        raise ToolFailure(
            f"could not connect to {_host(url)} (network down or host unreachable)"
        ) from exc
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
        raise ToolFailure(
            f"{_host(url)} answered HTTP {resp.status_code}" + (f": {reason}" if reason else "")
        )
    if data is None:
        raise ToolFailure(f"{_host(url)} did not answer with JSON")
    return data


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


# --- guarded fetches: URLs chosen by a model ---------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """A response read by :func:`fetch_guarded` (body decompressed, at most the byte cap)."""

    final_url: str  # after redirects
    status: int
    content_type: str  # media type only, lower-case ("text/html"); "" when absent
    body: bytes
    encoding: str | None  # the charset the server declared, if any


def fetch_guarded(
    url: str,
    *,
    settings: Settings | None = None,
    max_bytes: int | None = None,
    timeout: float | None = None,
    accept: str = PAGE_ACCEPT,
    resolver: Resolver | None = None,
    trusted_hosts: Collection[str] = (),
    ca_certs: str | None = None,
) -> Fetched:
    """GET a URL a model chose, through the private-address guard.

    Every hop (up to ``MAX_REDIRECTS`` redirects) is checked by
    :func:`ahora.netguard.check_url` and connected to the address that was checked.
    The body is read decompressed and stops past ``max_bytes``
    (default ``settings.page_max_bytes``); the whole fetch, redirects included, ends
    within ``timeout`` seconds (default ``settings.http_timeout``). HTTP error statuses
    are returned, not raised. Raises ``BlockedURL`` for refused addresses and
    ``ToolFailure`` for network failures, oversize bodies and overtime.

    ``resolver`` replaces the OS resolver and ``trusted_hosts`` names hosts exempt from
    the address check (see :mod:`ahora.netguard`); ``ca_certs`` is a CA bundle path
    (default: certifi's).
    """
    from urllib.parse import urljoin

    from ahora import netguard

    s = settings or get_settings()
    limit = max_bytes if max_bytes is not None else s.page_max_bytes
    budget = timeout if timeout is not None else s.http_timeout
    deadline = time.monotonic() + budget
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        target = netguard.check_url(
            current,
            allow_private=s.allow_private_urls,
            resolver=resolver,
            trusted_hosts=trusted_hosts,
        )
        with _Watchdog(deadline, budget) as watchdog:
            resp = _open(target, accept, watchdog, ca_certs)
            try:
                location = resp.headers.get("Location")
                if resp.status in (301, 302, 303, 307, 308) and location:
                    current = urljoin(target.url, location.strip())
                    continue
                body = _read_capped(resp, limit, watchdog, target)
            finally:
                resp.close()
        return Fetched(
            final_url=target.url,
            status=resp.status,
            content_type=_media_type(resp.headers.get("Content-Type", "")),
            body=body,
            encoding=_charset(resp.headers.get("Content-Type", "")),
        )
    raise ToolFailure(f"{_host(url)} redirected more than {MAX_REDIRECTS} times; giving up")


class _Watchdog:
    """Shuts the socket down when the deadline passes, interrupting any blocking read.

    Per-read timeouts do not bound a download (a server sending one byte a second
    never trips them); this does, for connect, TLS, headers and body alike.
    """

    def __init__(self, deadline: float, budget: float) -> None:
        self.deadline = deadline
        self.budget = budget
        self.expired = False
        self._conn: HTTPConnection | None = None
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def watch(self, conn: HTTPConnection) -> None:
        self._conn = conn

    def _fire(self) -> None:
        import socket

        self.expired = True
        sock = self._conn.sock if self._conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer = threading.Timer(max(self.remaining(), 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _open(target: Target, accept: str, watchdog: _Watchdog, ca_certs: str | None) -> HTTPResponse:
    """Connect to the first checked address that answers and send the GET."""
    import urllib3
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.util import make_headers

    headers = make_headers(accept_encoding=True)
    headers.update({"Host": target.host_header, "User-Agent": USER_AGENT, "Accept": accept})
    last: Exception | None = None
    for address in target.addresses:
        remaining = watchdog.remaining()
        if remaining <= 0:
            break
        connect_timeout = min(10.0, remaining)
        conn: HTTPConnection
        if target.scheme == "https":
            conn = HTTPSConnection(
                address,
                target.port,
                timeout=connect_timeout,
                server_hostname=target.host,  # SNI and certificate checks use the name
                cert_reqs="CERT_REQUIRED",
                ca_certs=ca_certs or _certifi_bundle(),
            )
        else:
            conn = HTTPConnection(address, target.port, timeout=connect_timeout)
        watchdog.watch(conn)
        try:
            conn.connect()
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            conn.close()
            last = exc
            if _is_tls_error(exc):
                raise ToolFailure(
                    f"the TLS connection to {target.host} failed: {_reason(exc)}"
                ) from exc
            continue  # try the next checked address
        # From here the watchdog bounds the whole exchange; reads may wait until then.
        # (+1 s so that the watchdog, not a socket timeout, reports the overrun.)
        conn.timeout = max(watchdog.remaining(), 0.0) + 1.0
        try:
            conn.request("GET", target.request_target, headers=headers, preload_content=False)
            return conn.getresponse()
        except Exception as exc:
            conn.close()
            raise _network_failure(exc, target, watchdog) from exc
    if watchdog.expired or watchdog.remaining() <= 0:
        raise ToolFailure(_overtime(target, watchdog))
    raise ToolFailure(
        f"could not connect to {target.host}" + (f" ({_reason(last)})" if last is not None else "")
    )


def _read_capped(resp: HTTPResponse, limit: int, watchdog: _Watchdog, target: Target) -> bytes:
    """Read the decompressed body, stopping past ``limit`` bytes or at the deadline."""
    declared = resp.headers.get("Content-Length", "")
    encoded = resp.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity")
    if declared.isdigit() and not encoded and int(declared) > limit:
        raise ToolFailure(_too_big(target, limit))
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            # read(amt) decompresses at most amt bytes per call (urllib3 >= 2.6), so a
            # gzip bomb is stopped after limit + 64 KiB, never inflated whole.
            chunk = resp.read(65_536, decode_content=True)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise ToolFailure(_too_big(target, limit))
            chunks.append(chunk)
    except ToolFailure:
        raise
    except Exception as exc:
        raise _network_failure(exc, target, watchdog) from exc
    if watchdog.expired:
        raise ToolFailure(_overtime(target, watchdog))
    return b"".join(chunks)


def _too_big(target: Target, limit: int) -> str:
    return f"the response from {target.host} is larger than the {limit:,}-byte limit"


def _overtime(target: Target, watchdog: _Watchdog) -> str:
    return f"reading {target.host} took longer than {watchdog.budget:g} seconds; gave up"


def _network_failure(exc: BaseException, target: Target, watchdog: _Watchdog) -> ToolFailure:
    if watchdog.expired:
        return ToolFailure(_overtime(target, watchdog))
    if _is_timeout(exc):
        return ToolFailure(f"the request to {target.host} timed out")
    return ToolFailure(f"the connection to {target.host} failed: {_reason(exc)}")


def _is_timeout(exc: BaseException) -> bool:
    import socket

    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, Urllib3Timeout | socket.timeout):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_tls_error(exc: BaseException) -> bool:
    import ssl

    from urllib3.exceptions import SSLError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError | SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _certifi_bundle() -> str | None:
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests depends on certifi
        return None
    return str(certifi.where())


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None
