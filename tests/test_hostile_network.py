"""Hostile servers against the one HTTP layer (issue 9 items 3, 4, 6; issue 11's one stack).

Credentials never follow a redirect to another origin; every call (configured services
and guarded fetches alike) ends by its deadline, name resolution included; bodies are
capped after decompression and an oversize body is never written to the response cache.
Loopback servers only.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from ahora import http
from ahora.errors import ToolFailure
from ahora.settings import Settings
from tests.fixtures.pages import PageServer


@pytest.fixture
def srv() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture
def other() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def settings(tmp_path: Path, **kw: object) -> Settings:
    base: dict[str, object] = {"http_retries": 0, "http_timeout": 5.0, "home": tmp_path}
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


# --- credentials stay with their origin ---------------------------------------------------


@pytest.mark.parametrize("header", ["Authorization", "Cookie", "X-Api-Key"])
def test_credential_is_not_sent_to_another_port(
    srv: PageServer, other: PageServer, tmp_path: Path, header: str
) -> None:
    away = other.url("/echo-headers")
    with pytest.raises(ToolFailure, match="another origin") as info:
        http.get(
            srv.url(f"/redirect?to={quote(away, safe='')}"),
            headers={header: "Bearer sk-secret"},
            settings=settings(tmp_path),
        )
    assert away in str(info.value)
    assert other.hits == []


def test_credential_is_not_sent_to_another_host(srv: PageServer, tmp_path: Path) -> None:
    away = srv.url("/echo-headers", host="localhost")
    with pytest.raises(ToolFailure, match="another origin"):
        http.get(
            srv.url(f"/redirect?to={quote(away, safe='')}"),
            headers={"Authorization": "Bearer sk-secret"},
            settings=settings(tmp_path),
        )
    assert srv.hits == [f"/redirect?to={quote(away, safe='')}"]


def test_credential_follows_a_same_origin_redirect(srv: PageServer, tmp_path: Path) -> None:
    resp = http.get(
        srv.url("/redirect?to=/echo-headers"),
        headers={"Authorization": "Bearer sk-secret"},
        settings=settings(tmp_path),
    )
    assert resp.json()["authorization"] == "Bearer sk-secret"


def test_without_credentials_cross_origin_redirects_are_followed(
    srv: PageServer, other: PageServer, tmp_path: Path
) -> None:
    away = other.url("/json")  # loopback, so private: allowed here (see test_service_redirects)
    s = settings(tmp_path, allow_private_urls=True)
    resp = http.get(srv.url(f"/redirect?to={quote(away, safe='')}"), settings=s)
    assert resp.json() == {"temperature": 21.5, "unit": "C"}
    assert resp.url == away


def test_redirect_loops_stop_for_configured_services(srv: PageServer, tmp_path: Path) -> None:
    with pytest.raises(ToolFailure, match="redirected more than 5 times"):
        http.get(srv.url("/loop/0"), settings=settings(tmp_path))


# --- sizes: capped after decompression, never cached when oversize -------------------------


@pytest.mark.parametrize("path", ["/gzip-bomb", "/gzip-bomb-chunked", "/endless"])
def test_configured_service_bodies_are_capped(srv: PageServer, tmp_path: Path, path: str) -> None:
    s = settings(tmp_path, page_max_bytes=1_000_000)
    started = time.monotonic()
    with pytest.raises(ToolFailure, match="larger than the 1,000,000-byte limit"):
        http.get(srv.url(path), settings=s)
    assert time.monotonic() - started < 5
    cache = http.session(s).cache  # type: ignore[attr-defined]
    assert len(cache.responses) == 0  # nothing oversize was written to the cache
    assert sum(f.stat().st_size for f in s.cache_dir.rglob("*") if f.is_file()) < 1_000_000


def test_small_bodies_are_still_cached(srv: PageServer, tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert http.get(srv.url("/json"), settings=s).json()["unit"] == "C"
    assert http.get(srv.url("/json"), settings=s).json()["unit"] == "C"
    assert srv.hits == ["/json"]  # the second answer came from the cache


# --- deadlines: the whole call, name resolution included ----------------------------------


@pytest.mark.parametrize("path", ["/trickle", "/trickle-unsized", "/trickle-headers"])
def test_configured_service_trickle_stops_at_the_deadline(
    srv: PageServer, tmp_path: Path, path: str
) -> None:
    started = time.monotonic()
    with pytest.raises(ToolFailure, match="took longer than 1 seconds"):
        http.get(srv.url(path), settings=settings(tmp_path), timeout=1.0)
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("path", ["/trickle-unsized", "/trickle-headers"])
def test_guarded_trickle_stops_at_the_deadline(srv: PageServer, tmp_path: Path, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(ToolFailure, match="took longer than 1 seconds"):
        http.fetch_guarded(
            srv.url(path), settings=settings(tmp_path, allow_private_urls=True), timeout=1.0
        )
    assert time.monotonic() - started < 2.5


def _slow_getaddrinfo(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    real = socket.getaddrinfo

    def slow(host: str, port: object, *args: object, **kwargs: object) -> object:
        if host == "slow.test":
            time.sleep(seconds)
            return real("127.0.0.1", port, *args, **kwargs)  # type: ignore[arg-type]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", slow)


def test_slow_name_resolution_counts_against_the_deadline_of_get(
    srv: PageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slow_getaddrinfo(monkeypatch, 4.0)
    started = time.monotonic()
    with pytest.raises(ToolFailure):
        http.get(f"http://slow.test:{srv.port}/json", settings=settings(tmp_path), timeout=1.0)
    assert time.monotonic() - started < 2.0


def test_slow_name_resolution_counts_against_the_deadline_of_fetch(
    srv: PageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slow_getaddrinfo(monkeypatch, 4.0)
    started = time.monotonic()
    with pytest.raises(ToolFailure, match=r"resolving slow\.test took longer"):
        http.fetch_guarded(
            f"http://slow.test:{srv.port}/plain",
            settings=settings(tmp_path),
            trusted_hosts={"slow.test"},
            timeout=1.0,
        )
    assert time.monotonic() - started < 2.0


def test_nothing_left_running_keeps_the_process_alive(
    srv: PageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resolver still stuck after the deadline is abandoned in a daemon thread."""
    _slow_getaddrinfo(monkeypatch, 3.0)
    before = {t for t in threading.enumerate() if not t.daemon}
    with pytest.raises(ToolFailure):
        http.fetch_guarded(
            f"http://slow.test:{srv.port}/plain",
            settings=settings(tmp_path),
            trusted_hosts={"slow.test"},
            timeout=0.5,
        )
    stuck = [t for t in threading.enumerate() if t.name == "ahora-resolve" and t.is_alive()]
    assert stuck and all(t.daemon for t in stuck)
    after = {t for t in threading.enumerate() if not t.daemon and t.is_alive()}
    assert after - before == set()
