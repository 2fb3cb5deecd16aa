"""The one HTTP layer every tool uses, built on requests.

One place for timeouts, retries with backoff on 429/5xx (honouring Retry-After, capped
at ``RETRY_AFTER_MAX`` seconds so a server cannot park a tool for an hour), an honest
User-Agent, a SQLite-backed response cache (requests-cache) and, for URLs that come
from a model, :func:`fetch_guarded`.

Every request, whatever the caller, goes through :class:`BoundedAdapter`, which:

- reads the body itself, decompressed, and stops past a byte cap, so a gzip bomb is
  never inflated whole and an oversize body is refused *before* the response cache
  sees it (nothing oversize is ever cached);
- keeps a hard wall-clock deadline for the whole call (name resolution, connect, TLS,
  headers, body, retries): a watchdog shuts the sockets down when it passes, because
  per-read timeouts never stop a server that sends one byte every 0.2 s;
- resolves names in a way it can bound (the OS resolver cannot be interrupted, so it
  runs in a daemon thread that is abandoned at the deadline).

``get``/``get_json`` are for services the developer configured (search, weather, the
model server probe). They follow redirects themselves: a request that carries a
credential (``Authorization``, ``Cookie``, an API-key header) never follows a
redirect to another origin (scheme, host or port).

``fetch_guarded`` is for addresses a model chose (read_page): it runs the
private-address guard (:mod:`ahora.netguard`) on every hop and pins the connection to
the address it checked (the connection class connects there instead of resolving
again, while SNI, certificate checks and the Host header keep the real name). It
bypasses the response cache (the cache is shared with ``get``, which may reach
intranet services) and ignores proxy environment variables (through a proxy the guard
could not know where it connects).

Sessions hang off the settings they were built for (a cache keyed by the settings'
HTTP fields); :func:`reset` forgets them.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from ahora import netguard
from ahora.__about__ import __version__
from ahora.daemon_call import call_within
from ahora.errors import BlockedURL, RedirectRefused, ToolFailure

if TYPE_CHECKING:
    from ahora.netguard import Resolver
    from ahora.settings import Settings

__all__ = [
    "CREDENTIAL_HEADERS",
    "MAX_REDIRECTS",
    "RETRY_AFTER_MAX",
    "USER_AGENT",
    "BoundedAdapter",
    "Fetched",
    "RedirectRefused",
    "call_budget",
    "fetch_guarded",
    "get",
    "get_json",
    "reset",
    "session",
]

USER_AGENT = f"ahora/{__version__} (+https://github.com/ahora-agents/ahora; tool-using agent)"

#: Longest wait honoured from a Retry-After header, in seconds.
RETRY_AFTER_MAX = 10.0
#: Redirects followed before giving up.
MAX_REDIRECTS = 5
#: Request headers that carry a credential: never sent across origins.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
)
#: What read_page asks for.
PAGE_ACCEPT = (
    "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,"
    "application/xml;q=0.7,*/*;q=0.1"
)
_REDIRECTS = (301, 302, 303, 307, 308)

_lock = threading.Lock()
_sessions: dict[tuple[Any, ...], requests.Session] = {}


def reset() -> None:
    """Forget every shared session (tests call this between cases)."""
    with _lock:
        for sess in _sessions.values():
            sess.close()
        _sessions.clear()


def session(settings: Settings, *, retries: int | None = None) -> requests.Session:
    """The shared session for these settings: cache, retries, caps and User-Agent set up."""
    tries = settings.http_retries if retries is None else retries
    key = (str(settings.cache_dir), tries, settings.http_cache_seconds, settings.page_max_bytes)
    with _lock:
        if key not in _sessions:
            _sessions[key] = _build_session(settings, tries)
        return _sessions[key]


def _build_session(s: Settings, retries: int) -> requests.Session:
    sess: requests.Session
    try:
        import requests_cache

        from ahora.settings import private_dir

        private_dir(s.cache_dir)  # the pages the user read
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
    adapter = BoundedAdapter(max_bytes=s.page_max_bytes, retries=_retry(retries))
    sess.mount("http://", adapter)
    sess.mount("https://", adapter)
    sess.headers["User-Agent"] = USER_AGENT
    return sess


class _CappedRetry(Retry):
    """urllib3's Retry, but a Retry-After wait is at most ``RETRY_AFTER_MAX`` seconds
    and never runs past the call's deadline."""

    def parse_retry_after(self, retry_after: str) -> float:
        wait = min(super().parse_retry_after(retry_after), RETRY_AFTER_MAX)
        call = _current.get()
        return max(0.0, min(wait, call.remaining())) if call is not None else wait


def _retry(total: int) -> Retry:
    return _CappedRetry(
        total=total,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


# --- one call: deadline, watched sockets, pinned addresses ---------------------------------


class _Overtime(requests.ConnectionError):
    """The call's deadline passed."""


class _SlowResolve(Exception):
    """Name resolution outlasted the call's deadline (not an OSError: not "no such name")."""


class _TooLarge(requests.RequestException):
    """The body is larger than the byte cap."""


@dataclass(eq=False)
class _Call:
    """One logical request (redirects and retries included): its deadline, the sockets
    it opened, and, for guarded fetches, the only addresses it may connect to."""

    seconds: float
    deadline: float = 0.0
    pinned: dict[tuple[str, int], tuple[str, ...]] | None = None
    expired: bool = False
    _sockets: list[socket.socket] = field(default_factory=list)
    _timer: threading.Timer | None = None
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._mutex:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _fire(self) -> None:
        with self._mutex:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> _Call:
        self.deadline = time.monotonic() + self.seconds
        self._timer = threading.Timer(max(self.seconds, 0.0), self._fire)
        self._timer.daemon = True  # never keeps the process alive
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()


_current: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "ahora_http_call", default=None
)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _bounded(resolver: Resolver, seconds: float) -> Resolver:
    def resolve(host: str, port: int) -> Sequence[str]:
        with contextlib.suppress(ValueError):
            return [str(ipaddress.ip_address(host))]  # a literal: nothing to ask
        try:
            return call_within(seconds, lambda: resolver(host, port), name="ahora-resolve")
        except TimeoutError:
            raise _SlowResolve(f"resolving {host} took longer than {seconds:g} seconds") from None

    return resolve


def _open_socket(conn: HTTPConnection) -> socket.socket:
    """Connect within the call's deadline to a checked (pinned) or boundedly resolved
    address, and register the socket with the call's watchdog."""
    call = _current.get()
    host, port = conn._dns_host.strip("[]").lower(), conn.port or 80
    if call is not None and call.pinned is not None:
        addresses: Sequence[str] | None = call.pinned.get((host.rstrip("."), port))
        if addresses is None:  # never resolve on a guarded call
            raise NewConnectionError(conn, f"{host}:{port} was not checked by the guard")
    else:
        seconds = call.remaining() if call is not None else 30.0
        try:
            addresses = _bounded(_system_resolve, seconds)(host, port)
        except _SlowResolve as exc:
            raise ConnectTimeoutError(conn, str(exc)) from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"could not resolve {host}: {exc}") from exc
    last: OSError | None = None
    for address in addresses:
        limit = conn.timeout if isinstance(conn.timeout, int | float) else None
        if call is not None:
            if call.remaining() <= 0:
                break
            limit = min(limit or 10.0, call.remaining())
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for opt in conn.socket_options or ():
                sock.setsockopt(*opt)
            sock.settimeout(limit)
            if call is not None:
                call.watch(sock)
            sock.connect((address, port))
        except OSError as exc:  # refused, unreachable or timed out: try the next address
            sock.close()
            last = exc
            continue
        sock.settimeout(conn.timeout if isinstance(conn.timeout, int | float) else None)
        return sock
    if isinstance(last, TimeoutError) or (
        call is not None and (call.expired or call.remaining() <= 0)
    ):
        raise ConnectTimeoutError(conn, f"connecting to {host} took too long")
    raise NewConnectionError(conn, f"Failed to establish a new connection: {last}")


def _system_resolve(host: str, port: int) -> list[str]:
    return netguard.system_resolver(host, port)  # looked up at call time: tests patch it


class _HTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _open_socket(self)


class _HTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _open_socket(self)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class BoundedAdapter(HTTPAdapter):
    """A requests transport adapter that reads every body itself: decompressed, at
    most ``max_bytes``, before the call's deadline; sockets are opened by
    :func:`_open_socket` (bounded resolution, pinned addresses, watchdog)."""

    def __init__(self, *, max_bytes: int, retries: Retry | int = 0) -> None:
        self.max_bytes = max_bytes
        super().__init__(max_retries=retries, pool_maxsize=16)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        call = _current.get()
        with contextlib.ExitStack() as stack:
            if call is None:  # used directly, not through get(): a deadline all the same
                seconds = timeout if isinstance(timeout, int | float) else 30.0
                call = stack.enter_context(_Call(seconds))
                stack.callback(_current.reset, _current.set(call))
            try:
                resp = super().send(
                    request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies
                )
            except requests.RequestException:
                if call.expired:
                    raise _Overtime("deadline passed") from None
                raise
            try:
                body = _read_capped(resp, self.max_bytes, call)
            except BaseException:
                resp.close()
                raise
            resp._content = body
            resp._content_consumed = True
            resp.raw.release_conn()
            return resp


def _read_capped(resp: requests.Response, limit: int, call: _Call) -> bytes:
    """The decompressed body, refused past ``limit`` bytes or at the deadline."""
    declared = resp.headers.get("Content-Length", "")
    encoded = resp.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity")
    if declared.isdigit() and not encoded and int(declared) > limit:
        raise _TooLarge(f"larger than the {limit:,}-byte limit")
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            # read(amt) decompresses at most amt bytes per call (urllib3 >= 2.6), so a
            # gzip bomb is stopped after limit + 64 KiB, never inflated whole.
            chunk = resp.raw.read(65_536, decode_content=True)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise _TooLarge(f"larger than the {limit:,}-byte limit")
            chunks.append(chunk)
            if call.expired:
                raise _Overtime("deadline passed")
    except requests.RequestException:
        raise
    except Exception as exc:
        if call.expired:
            raise _Overtime("deadline passed") from exc
        raise requests.ConnectionError(str(exc)) from exc
    if call.expired:
        raise _Overtime("deadline passed")
    return b"".join(chunks)


def call_budget(settings: Settings) -> float:
    """Seconds one call may take: ``http_timeout``, but never more than a tool's own
    time limit, so nothing a tool started is still running after the tool timed out."""
    tool = settings.tool_timeout
    return min(settings.http_timeout, tool) if tool else settings.http_timeout


# --- configured services -----------------------------------------------------------------


def get(
    url: str,
    *,
    settings: Settings,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    retries: int | None = None,
) -> requests.Response:
    """GET through the shared session; network failures become ``ToolFailure``.

    The whole call (redirects and retries included) ends within ``timeout`` seconds
    (default :func:`call_budget`); bodies past ``settings.page_max_bytes`` are
    refused and never cached. Redirects are followed up to ``MAX_REDIRECTS`` times,
    but never to another origin while a credential header is sent.

    The configured origin is the developer's choice (it may well be a private
    address); where it redirects to is the service's. Every redirect hop therefore
    passes the private-address guard (the configured origin exempt) and connects to
    the address that was checked, so a service cannot send ahora to a metadata or
    intranet address.
    """
    budget = timeout or call_budget(settings)
    sess = session(settings, retries=retries)
    carries_credential = any(k.lower() in CREDENTIAL_HEADERS for k in headers or {})
    current = requests.Request("GET", url, params=params).prepare().url or url
    configured = _origin(current)
    with _Call(budget) as call:
        token = _current.set(call)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                resp = _send(sess, current, headers, call, budget)
                location = resp.headers.get("Location")
                if resp.status_code not in _REDIRECTS or not location:
                    return resp
                following = urljoin(current, location.strip())
                if carries_credential and _origin(following) != _origin(current):
                    raise RedirectRefused(
                        f"{_shorten(current)} redirected to {_shorten(following)}, another "
                        "origin; not following it, so the credentials are not sent there"
                    )
                current = _guard_redirect(url, following, configured, settings, call)
        finally:
            _current.reset(token)
    raise ToolFailure(f"{_host(url)} redirected more than {MAX_REDIRECTS} times; giving up")


def _send(
    sess: requests.Session,
    url: str,
    headers: dict[str, str] | None,
    call: _Call,
    budget: float,
) -> requests.Response:
    try:
        return sess.get(
            url,
            headers=headers,
            timeout=(min(10.0, max(call.remaining(), 0.01)), max(call.remaining(), 0.01) + 1.0),
            allow_redirects=False,
        )
    except _TooLarge as exc:
        raise ToolFailure(f"the response from {_host(url)} is {exc}") from exc
    except requests.RequestException as exc:
        if call.expired or isinstance(exc, _Overtime) or call.remaining() <= 0:
            raise ToolFailure(
                f"the request to {_host(url)} took longer than {budget:g} seconds; gave up"
            ) from exc
        if isinstance(exc, requests.Timeout):
            raise ToolFailure(f"the request to {_host(url)} timed out") from exc
        if isinstance(exc, requests.ConnectionError):
            why = "nothing is listening there" if _refused(exc) else "network down or unreachable"
            raise ToolFailure(f"could not connect to {_host(url)} ({why})") from exc
        from ahora.masking import mask_urls

        raise ToolFailure(f"the request to {_host(url)} failed: {mask_urls(str(exc))}") from exc


def _guard_redirect(
    url: str,
    following: str,
    configured: tuple[str, str, int | None],
    settings: Settings,
    call: _Call,
) -> str:
    """Check a redirect target of a configured service and pin the call to it; from
    the first redirect on, the call connects only to checked addresses."""
    host = configured[1]
    try:
        target = netguard.check_url(
            following,
            allow_private=settings.allow_private_urls,
            resolver=_bounded(netguard.system_resolver, call.remaining()),
            trusted_hosts=(host,) if _origin(following) == configured else (),
        )
    except _SlowResolve as exc:
        raise ToolFailure(f"{exc}; gave up") from exc
    except BlockedURL as exc:
        reason = str(exc).partition(": ")[2] or str(exc)
        raise BlockedURL(
            f"{_host(url)} redirected to {_shorten(following)}, which is not followed: {reason}"
        ) from exc
    if call.pinned is None:
        call.pinned = {}
        if configured[2] is not None:  # the service itself, as it was reached so far
            bracketed = f"[{host}]" if ":" in host else host
            origin = netguard.check_url(
                f"{configured[0]}://{bracketed}:{configured[2]}/",
                resolver=_bounded(netguard.system_resolver, call.remaining()),
                trusted_hosts=(host,),
            )
            call.pinned[(origin.host.rstrip("."), origin.port)] = origin.addresses
    call.pinned[(target.host.rstrip("."), target.port)] = target.addresses
    return target.url


def _refused(exc: BaseException) -> bool:
    """The host answered that no program listens on the port: requests' message
    carries the socket's "[Errno 111] Connection refused" through urllib3's wrappers."""
    return "connection refused" in str(exc).lower()


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


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").rstrip("."), port


def _host(url: str) -> str:
    """``host:port`` for a message, never the ``user:password@`` before it."""
    return urlsplit(url).netloc.rpartition("@")[2] or _shorten(url)


def _shorten(url: str, limit: int = 200) -> str:
    """A URL for a message: credentials masked (``ahora.masking``), at most ``limit``."""
    from ahora.masking import mask_urls

    url = mask_urls(url)
    return url if len(url) <= limit else url[: limit - 3] + "..."


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
    settings: Settings,
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
    (default ``settings.page_max_bytes``); the whole fetch, name resolution and
    redirects included, ends within ``timeout`` seconds (default :func:`call_budget`).
    HTTP error statuses are returned, not raised. Raises ``BlockedURL`` for refused
    addresses and ``ToolFailure`` for network failures, oversize bodies and overtime.

    ``resolver`` replaces the OS resolver and ``trusted_hosts`` names hosts exempt from
    the address check (see :mod:`ahora.netguard`); ``ca_certs`` is a CA bundle path
    (default: certifi's).
    """
    limit = max_bytes if max_bytes is not None else settings.page_max_bytes
    budget = timeout if timeout is not None else call_budget(settings)
    sess = requests.Session()
    sess.trust_env = False  # no proxies: the guard must know where it connects
    sess.mount("http://", BoundedAdapter(max_bytes=limit))
    sess.mount("https://", BoundedAdapter(max_bytes=limit))
    headers = {"User-Agent": USER_AGENT, "Accept": accept}
    current = url
    with sess, _Call(budget, pinned={}) as call:
        token = _current.set(call)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    target = netguard.check_url(
                        current,
                        allow_private=settings.allow_private_urls,
                        resolver=_bounded(resolver or netguard.system_resolver, call.remaining()),
                        trusted_hosts=trusted_hosts,
                    )
                except _SlowResolve as exc:
                    raise ToolFailure(f"{exc}; gave up") from exc
                assert call.pinned is not None
                call.pinned[(target.host.rstrip("."), target.port)] = target.addresses
                resp = _fetch_hop(sess, target, headers, call, ca_certs, limit)
                location = resp.headers.get("Location")
                if resp.status_code in _REDIRECTS and location:
                    current = urljoin(target.url, location.strip())
                    continue
                content_type = resp.headers.get("Content-Type", "")
                return Fetched(
                    final_url=target.url,
                    status=resp.status_code,
                    content_type=_media_type(content_type),
                    body=resp.content,
                    encoding=_charset(content_type),
                )
        finally:
            _current.reset(token)
    raise ToolFailure(f"{_host(url)} redirected more than {MAX_REDIRECTS} times; giving up")


def _fetch_hop(
    sess: requests.Session,
    target: netguard.Target,
    headers: dict[str, str],
    call: _Call,
    ca_certs: str | None,
    limit: int,
) -> requests.Response:
    if call.remaining() <= 0:
        raise ToolFailure(_overtime(target.host, call))
    try:
        return sess.get(
            target.url,
            headers=headers,
            timeout=(min(10.0, call.remaining()), call.remaining() + 1.0),
            allow_redirects=False,
            verify=ca_certs or True,
        )
    except _TooLarge as exc:
        raise ToolFailure(
            f"the response from {target.host} is larger than the {limit:,}-byte limit"
        ) from exc
    except requests.exceptions.SSLError as exc:
        raise ToolFailure(f"the TLS connection to {target.host} failed: {_reason(exc)}") from exc
    except requests.RequestException as exc:
        if call.expired or isinstance(exc, _Overtime) or call.remaining() <= 0:
            raise ToolFailure(_overtime(target.host, call)) from exc
        if isinstance(exc, requests.Timeout):
            raise ToolFailure(f"the request to {target.host} timed out") from exc
        raise ToolFailure(f"could not connect to {target.host} ({_reason(exc)})") from exc


def _overtime(host: str, call: _Call) -> str:
    return f"reading {host} took longer than {call.seconds:g} seconds; gave up"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None
