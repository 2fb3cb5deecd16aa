"""Search state that outlives the process: cached results and back-off windows, in SQLite.

Most people run ``ahora ask`` as a fresh process each time, so an in-memory cache and
rate limiter forget everything between questions, and ddgs's engines start answering
HTTP 202 after a few queries. This store keeps, in ``settings.cache_dir /
"search.sqlite"``:

* ``results``: the answer to ``(normalised query, max_results)`` as JSON, with the
  backend that gave it and when (wall-clock seconds), so another process within
  ``search_cache_seconds`` reuses it without calling any backend;
* ``backoff``: "leave backend X alone until T" (and the window length, so repeated
  rate limits keep doubling across processes).

It is a cache, never a requirement: every method swallows SQLite and OS errors (a
read-only or missing data dir, a locked or corrupt file), logs one debug line, and
answers "nothing stored"; after a failure the store rests for ``COOL_DOWN`` seconds
so a locked file costs at most one ``BUSY_TIMEOUT`` per search. Each operation opens
and closes its own connection (WAL mode, short busy timeout): nothing is held
between calls, so no lock outlives an operation, and threads need no coordination.

Time is passed in by the caller (``ahora.search.chain``), never read here.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from ahora.search.base import SearchResult
from ahora.settings import private_file

__all__ = ["Backoff", "SearchStore", "StoredResults", "reset_stores", "store_at"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 0.2
"""Seconds to wait for another process's write lock before giving up on the store."""

COOL_DOWN = 30.0
"""After a failure, seconds during which the store is not tried again (this process)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    query TEXT NOT NULL,
    max_results INTEGER NOT NULL,
    backend TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    results TEXT NOT NULL,
    PRIMARY KEY (query, max_results)
);
CREATE TABLE IF NOT EXISTS backoff (
    backend TEXT PRIMARY KEY,
    until REAL NOT NULL,
    penalty REAL NOT NULL
);
"""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredResults:
    """A cached answer: which backend gave it, and when (epoch seconds)."""

    results: list[SearchResult]
    backend: str
    fetched_at: float


@dataclass(frozen=True, slots=True)
class Backoff:
    """Backend must be left alone until ``until`` (epoch seconds); ``penalty`` was the window."""

    until: float
    penalty: float


class SearchStore:
    """The SQLite file at ``path``; every method is safe to call and never raises."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ready = False
        self._resting_until = 0.0  # time.monotonic(): skip the store until then

    def load(self, key: tuple[str, int], *, fresh_after: float) -> StoredResults | None:
        """The answer stored for ``key`` after ``fresh_after``, or None."""

        def op(conn: sqlite3.Connection) -> StoredResults | None:
            row = conn.execute(
                "SELECT backend, fetched_at, results FROM results"
                " WHERE query = ? AND max_results = ? AND fetched_at > ?",
                (key[0], key[1], fresh_after),
            ).fetchone()
            if row is None:
                return None
            try:
                results = [SearchResult(**item) for item in json.loads(row[2])]
            except (TypeError, ValueError):  # written by another version: a miss
                return None
            return StoredResults(results, str(row[0]), float(row[1]))

        return self._run("load", op, None)

    def save(self, key: tuple[str, int], stored: StoredResults, *, drop_before: float) -> None:
        """Store ``stored`` under ``key``; forget every answer fetched before ``drop_before``."""
        payload = json.dumps([asdict(r) for r in stored.results], ensure_ascii=False)

        def op(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("DELETE FROM results WHERE fetched_at < ?", (drop_before,))
                conn.execute(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                    (key[0], key[1], stored.backend, stored.fetched_at, payload),
                )

        self._run("save", op, None)

    def backoff(self, backend: str) -> Backoff | None:
        """The last back-off recorded for ``backend`` (it may have ended), or None."""

        def op(conn: sqlite3.Connection) -> Backoff | None:
            row = conn.execute(
                "SELECT until, penalty FROM backoff WHERE backend = ?", (backend,)
            ).fetchone()
            return None if row is None else Backoff(float(row[0]), float(row[1]))

        return self._run("backoff", op, None)

    def set_backoff(self, backend: str, backoff: Backoff) -> None:
        """Tell every process to leave ``backend`` alone until ``backoff.until``."""

        def op(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO backoff VALUES (?, ?, ?)",
                    (backend, backoff.until, backoff.penalty),
                )

        self._run("set_backoff", op, None)

    def clear_backoff(self, backend: str) -> None:
        """``backend`` answered: forget its back-off."""

        def op(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute("DELETE FROM backoff WHERE backend = ?", (backend,))

        self._run("clear_backoff", op, None)

    # --- plumbing ----------------------------------------------------------------------

    def _run(self, what: str, op: Callable[[sqlite3.Connection], T], default: T) -> T:
        if time.monotonic() < self._resting_until:
            return default
        try:
            with self._connect() as conn:
                return op(conn)
        except (sqlite3.Error, OSError) as exc:
            log.debug("search store %s: %s failed (%s); using memory only", self.path, what, exc)
            self._resting_until = time.monotonic() + COOL_DOWN
            return default

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            private_file(self.path)  # the user's queries
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: no fsync per commit; a cache
            if not self._ready:
                with self._lock:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(_SCHEMA)
                    self._ready = True
            yield conn
        finally:
            conn.close()


_stores_lock = threading.Lock()
_stores: dict[Path, SearchStore] = {}


def store_at(path: Path) -> SearchStore:
    """The process's store for the file at ``path`` (one per path, created on first use)."""
    with _stores_lock:
        if path not in _stores:
            _stores[path] = SearchStore(path)
        return _stores[path]


def reset_stores() -> None:
    """Forget open-store state (schema checked, resting after a failure); files stay."""
    with _stores_lock:
        _stores.clear()
