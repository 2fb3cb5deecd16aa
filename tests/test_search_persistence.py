"""Search state that outlives the process: the SQLite result cache and back-off windows.

A new ``ahora ask`` process is simulated with ``reset_search_state()`` (memory gone,
file kept) and, once, with a real subprocess. Time is injected through ``search``'s
``clock``; ddgs is the scripted fake and SearXNG the loopback fixture.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from ddgs.exceptions import RatelimitException

from ahora.search import (
    SearchBackend,
    SearchOutcome,
    SearchResult,
    SearchUnavailable,
    reset_search_state,
    search,
)
from ahora.search.chain import _TTLCache
from ahora.settings import get_settings
from ahora.tools.web_search import web_search
from tests.fixtures import fake_ddgs as fake_ddgs_module
from tests.fixtures import searxng as searxng_module
from tests.fixtures.fake_ddgs import DDGSScript
from tests.fixtures.searxng import SearXNGServer

fake_ddgs = fake_ddgs_module.fake_ddgs  # pytest fixtures, under their own names
searxng_server = searxng_module.searxng_server

T0 = 1_800_000_000.0
RATE_LIMITED = (RatelimitException("202 Ratelimit"), RatelimitException("202 Ratelimit"))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def db_path() -> Path:
    return get_settings().cache_dir / "search.sqlite"


def new_process() -> None:
    reset_search_state()


def assert_unlocked() -> None:
    """Nobody holds a lock on the store: an exclusive transaction starts at once."""
    conn = sqlite3.connect(db_path(), timeout=0)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        conn.rollback()
    finally:
        conn.close()


# --- results ------------------------------------------------------------------------


def test_next_process_is_served_from_the_store(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer
) -> None:
    clock = Clock()
    first = search("Chile elections", 5, clock=clock, settings=get_settings())
    assert not first.cached and len(searxng_server.requests) == 1

    new_process()
    clock.now += 120
    again = search("  chile   ELECTIONS ", 5, clock=clock, settings=get_settings())
    assert again.cached and again.results == first.results  # dates and snippets survive
    assert again.backend == f"SearXNG at {searxng_server.url}"
    assert again.fetched_at == T0 and again.cache_note(clock.now) == "cached, 2 min old"
    assert len(searxng_server.requests) == 1 and fake_ddgs.calls == []
    assert search(
        "chile elections", 5, clock=clock, settings=get_settings()
    ).cached  # now from memory too
    assert_unlocked()


def test_store_entries_expire(fake_ddgs: DDGSScript, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_SEARCH_CACHE_SECONDS", "60")
    clock = Clock()
    search("peru", 3, clock=clock, settings=get_settings())
    new_process()
    clock.now += 59
    assert search("peru", 3, clock=clock, settings=get_settings()).cached
    new_process()
    clock.now += 2
    assert not search("peru", 3, clock=clock, settings=get_settings()).cached
    assert len(fake_ddgs.calls) == 2


def test_a_memory_copy_of_a_stored_answer_expires_with_it() -> None:
    now = [0.0]
    cache = _TTLCache(8, clock=lambda: now[0])
    cache.put(("a", 5), SearchOutcome([]), age=50)  # read from the store, fetched 50 s ago
    assert cache.get(("a", 5), ttl=60) is not None
    now[0] += 11
    assert cache.get(("a", 5), ttl=60) is None


def test_disabled_cache_stores_nothing(
    fake_ddgs: DDGSScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_SEARCH_CACHE_SECONDS", "0")
    search("peru", 3, settings=get_settings())
    new_process()
    assert not search("peru", 3, settings=get_settings()).cached
    assert len(fake_ddgs.calls) == 2


class Counting(SearchBackend):
    """A fast backend (no rate limit to speak of) that counts its calls."""

    name = "counting"
    rate_per_second = 1000.0
    burst = 100

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def search(self, query: str, max_results: int) -> list[SearchResult]:
        with self._lock:
            self.calls += 1
        return [SearchResult(f"{query} {i}", f"https://c.example/{i}") for i in range(max_results)]


def test_threads_share_the_store() -> None:
    backend = Counting()
    queries = [f"query {i}" for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda q: search(q, 2, backends=[backend], settings=get_settings()), queries))
    new_process()
    assert all(search(q, 2, backends=[backend], settings=get_settings()).cached for q in queries)
    assert backend.calls == 16
    assert_unlocked()


def test_a_real_second_process_uses_the_store(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_SEARCH_BACKEND", "ddgs")
    fake_ddgs.push(*RATE_LIMITED)
    assert search("chile", 4, settings=get_settings()).backend == f"SearXNG at {searxng_server.url}"

    # The child may not reach ddgs at all: its client would go to the internet.
    code = (
        "import json\n"
        "from ahora.search import ddgs_backend, search\n"
        "from ahora.settings import get_settings\n"
        "def refuse(*a, **k):\n"
        "    raise SystemExit('the child called ddgs')\n"
        "ddgs_backend.ddgs_client_factory = refuse\n"
        "a = search('chile', 4, settings=get_settings())\n"
        "b = search('peru', 4, settings=get_settings())\n"
        "print(json.dumps([[o.cached, o.backend, o.skipped, len(o.results)] for o in (a, b)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    cached, fresh = json.loads(done.stdout)
    assert cached == [True, f"SearXNG at {searxng_server.url}", [], 4]
    assert fresh[0] is False and fresh[1] == f"SearXNG at {searxng_server.url}"
    assert fresh[2][0].startswith("ddgs rate-limited (backing off, ")
    assert [r.params["q"] for r in searxng_server.requests] == ["chile", "peru"]
    assert len(fake_ddgs.calls) == 2


# --- back-off -------------------------------------------------------------------------


def test_rate_limited_ddgs_is_skipped_by_later_processes_until_the_window_ends(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_SEARCH_BACKEND", "ddgs")
    searx = f"SearXNG at {searxng_server.url}"
    clock = Clock()
    fake_ddgs.push(*RATE_LIMITED)
    assert search("q1", 3, clock=clock, settings=get_settings()).skipped == [
        "ddgs rate-limited (HTTP 202)"
    ]
    assert len(fake_ddgs.calls) == 2

    new_process()
    clock.now += 5
    outcome = search("q2", 3, clock=clock, settings=get_settings())
    assert outcome.backend == searx
    assert outcome.skipped == ["ddgs rate-limited (backing off, 10 s left)"]
    assert len(fake_ddgs.calls) == 2  # not called

    new_process()
    clock.now += 11  # the 15 s window is over
    outcome = search("q3", 3, clock=clock, settings=get_settings())
    assert outcome.backend == "ddgs" and outcome.skipped == []
    assert len(fake_ddgs.calls) == 3

    # Success forgot the back-off: a new rate limit starts again at 15 s, not 30.
    new_process()
    fake_ddgs.push(*RATE_LIMITED)
    search("q4", 3, clock=clock, settings=get_settings())
    new_process()
    assert search("q5", 3, clock=clock, settings=get_settings()).skipped == [
        "ddgs rate-limited (backing off, 15 s left)"
    ]


def test_repeated_rate_limits_keep_doubling_across_processes(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_SEARCH_BACKEND", "ddgs")
    clock = Clock()
    lefts = []
    for gap in (0, 16, 31, 1000):  # after the last window ended long ago: start over
        clock.now += gap
        fake_ddgs.push(*RATE_LIMITED)
        search(
            f"q{gap}", 3, clock=clock, settings=get_settings()
        )  # ddgs rate-limited, SearXNG answers
        new_process()
        lefts.append(search(f"r{gap}", 3, clock=clock, settings=get_settings()).skipped[0])
        new_process()
    assert lefts == [f"ddgs rate-limited (backing off, {n} s left)" for n in (15, 30, 60, 15)]
    assert len(fake_ddgs.calls) == 8


def test_searxng_retry_after_is_shared_with_later_processes(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    searxng_server.override("/search", 429, "Too Many Requests", headers={"Retry-After": "40"})
    clock = Clock()
    assert search("chile", 3, clock=clock, settings=get_settings()).backend == "ddgs"
    new_process()
    clock.now += 30
    outcome = search("peru", 3, clock=clock, settings=get_settings())
    assert outcome.skipped == [
        f"SearXNG at {searxng_server.url} rate-limited (backing off, 10 s left)"
    ]
    assert len(searxng_server.requests) == 1


def test_everything_backing_off_says_for_how_long(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_SEARCH_BACKEND", "ddgs")
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    searxng_server.override("/search", 429, "Too Many Requests", headers={"Retry-After": "40"})
    fake_ddgs.push(*RATE_LIMITED)
    clock = Clock()
    with pytest.raises(SearchUnavailable, match=r"^web search is unavailable right now: ddgs"):
        search("chile", 3, clock=clock, settings=get_settings())

    new_process()
    clock.now += 5
    with pytest.raises(SearchUnavailable) as info:
        search("peru", 3, clock=clock, settings=get_settings())
    assert str(info.value) == (
        "web search is rate-limited for 10 more seconds (backing off: ddgs 10 s,"
        f" SearXNG at {searxng_server.url} 35 s). Try again after that, or answer from what"
        " you know, saying so."
    )
    assert len(fake_ddgs.calls) == 2 and len(searxng_server.requests) == 1


def test_the_tool_says_search_is_rate_limited(fake_ddgs: DDGSScript) -> None:
    fake_ddgs.push(*RATE_LIMITED)
    args = {"type": "tool_call", "id": "c1", "name": "web_search", "args": {"query": "chile"}}
    web_search.invoke(args)
    new_process()
    content = str(web_search.invoke(args).content)
    assert content.startswith("Error: web search is rate-limited for 1")  # 15 s, or 14
    assert "(backing off: ddgs 1" in content
    assert len(fake_ddgs.calls) == 2


# --- the store failing never breaks search ----------------------------------------------


@contextmanager
def held_lock() -> Iterator[None]:
    """Another process holds an exclusive lock on the store (rollback journal, so even
    readers must wait); released on leaving, whatever happens."""
    conn = sqlite3.connect(db_path(), timeout=0, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        conn.close()


def broken(how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "cache dir is a file":
        get_settings().cache_dir.parent.mkdir(parents=True)
        get_settings().cache_dir.write_text("x")
    elif how == "read-only home":
        if os.geteuid() == 0:
            pytest.skip("root ignores file permissions")
        home = tmp_path / "ro-home"
        home.mkdir()
        home.chmod(0o500)
        monkeypatch.setenv("AHORA_HOME", str(home))
    elif how == "corrupt file":
        db_path().parent.mkdir(parents=True)
        db_path().write_bytes(b"this is not a database\x00" * 100)
    elif how == "directory in its place":
        db_path().mkdir(parents=True)


@pytest.mark.parametrize(
    "how", ["cache dir is a file", "read-only home", "corrupt file", "directory in its place"]
)
def test_unusable_store_means_memory_only(
    how: str,
    fake_ddgs: DDGSScript,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken(how, tmp_path, monkeypatch)
    caplog.set_level("DEBUG", logger="ahora.search.store")
    first = search("chile", 3, settings=get_settings())
    assert first.backend == "ddgs" and len(first.results) == 3
    assert search("chile", 3, settings=get_settings()).cached  # the memory cache still works
    new_process()
    assert not search("chile", 3, settings=get_settings()).cached  # nothing could be stored
    assert len(fake_ddgs.calls) == 2
    assert all(r.levelname == "DEBUG" for r in caplog.records)
    assert any("using memory only" in r.getMessage() for r in caplog.records)


def test_unusable_store_keeps_in_process_back_off(
    fake_ddgs: DDGSScript, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken("corrupt file", tmp_path, monkeypatch)
    fake_ddgs.push(*RATE_LIMITED)
    with pytest.raises(SearchUnavailable, match=r"ddgs rate-limited \(HTTP 202\)"):
        search("chile", 3, settings=get_settings())
    with pytest.raises(SearchUnavailable, match=r"^web search is rate-limited for 1\d more"):
        search("peru", 3, settings=get_settings())
    assert len(fake_ddgs.calls) == 2


def test_locked_store_means_memory_only_then_recovers(fake_ddgs: DDGSScript) -> None:
    search("warm up", 1, settings=get_settings())  # creates the store (WAL)
    new_process()
    with held_lock():
        outcome = search("chile", 3, settings=get_settings())
        assert outcome.backend == "ddgs" and not outcome.cached
        new_process()
        assert not search("chile", 3, settings=get_settings()).cached
    assert len(fake_ddgs.calls) == 3
    new_process()
    search("chile", 3, settings=get_settings())  # the lock is gone: this one is stored
    new_process()
    assert search("chile", 3, settings=get_settings()).cached
    assert len(fake_ddgs.calls) == 4
    assert_unlocked()


def test_outcome_without_a_fetch_time_has_no_cache_note() -> None:
    assert SearchOutcome([], "ddgs", cached=True).cache_note() == ""
    fresh = SearchOutcome([], "ddgs", fetched_at=T0)
    assert fresh.cache_note(T0 + 999) == ""
    old = SearchOutcome([], "ddgs", cached=True, fetched_at=T0)
    assert [old.cache_note(T0 + age) for age in (5, 179, 7200)] == [
        "cached, 5 s old",
        "cached, 2 min old",
        "cached, 2.0 h old",
    ]
