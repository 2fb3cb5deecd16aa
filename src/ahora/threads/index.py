"""The thread index: ahora's own ``ahora_threads`` and ``ahora_turns`` tables.

Id, title, dates, turn count and each turn's question and answer, so ``ahora threads``
lists and shows conversations with the stdlib ``sqlite3`` alone (or psycopg), without
importing LangChain or LangGraph. One class and one set of SQL serve SQLite and
PostgreSQL (``PostgresThreadIndex`` changes only the placeholders and connection).
"""

from __future__ import annotations

import builtins
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ahora.errors import ThreadNotFound
from ahora.messages import SUBRUN_THREAD
from ahora.settings import Settings
from ahora.threads.pgconnect import connect_postgres
from ahora.threads.sqlite import compact, connect

if TYPE_CHECKING:
    from ahora.answer import Answer

__all__ = ["PostgresThreadIndex", "ThreadIndex", "ThreadInfo", "ThreadNotFound", "Turn"]


@dataclass(frozen=True)
class ThreadInfo:
    id: str
    title: str
    created: float
    updated: float
    turns: int
    model: str | None


@dataclass(frozen=True)
class Turn:
    """One finished question and answer, as ahora recorded it."""

    number: int
    question: str
    answer: str
    sources: list[dict[str, str]]
    tool_calls: list[dict[str, Any]]
    model: str | None
    created: float


# Plain SQL both SQLite and PostgreSQL run (DOUBLE PRECISION has REAL affinity in SQLite).
_INDEX_SCHEMA = """
CREATE TABLE IF NOT EXISTS ahora_threads (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    turns INTEGER NOT NULL DEFAULT 0,
    model TEXT
);
CREATE INDEX IF NOT EXISTS ahora_threads_updated ON ahora_threads (updated);
CREATE TABLE IF NOT EXISTS ahora_turns (
    thread_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    tool_calls TEXT NOT NULL DEFAULT '[]',
    model TEXT,
    created DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (thread_id, number)
);
"""


_SCHEMA_NAMES = tuple(re.findall(r"IF NOT EXISTS (\w+)", _INDEX_SCHEMA))


def _create_tables(conn: Any) -> None:
    for statement in _INDEX_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


_THREAD_COLUMNS = "SELECT id, title, created, updated, turns, model FROM ahora_threads"


class ThreadIndex:
    """The list of saved threads and their turns, in the SQLite file at ``path``.

    Ids may be given whole, as a unique prefix, or as ``last`` (the most recently
    updated thread); ``resolve`` turns any of those into a ``ThreadInfo``.

    The SQL is written once, with ``?`` placeholders. ``PostgresThreadIndex`` runs it
    in PostgreSQL by changing what the class attributes below and the ``_connect`` /
    ``_saved`` / ``compact`` methods say; ``for_settings`` picks one of the two.
    """

    placeholder = "?"
    begin = "BEGIN IMMEDIATE"  # take the write lock at once: two writers never deadlock
    tables_sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    # LangGraph's, and the compact saver's messages, if they live here
    checkpoint_tables: tuple[str, ...] = ("checkpoints", "writes", "ahora_messages")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: Any = None
        self._lock = threading.RLock()  # one statement or transaction at a time

    @classmethod
    def for_settings(cls, settings: Settings) -> ThreadIndex:
        """In PostgreSQL when ``settings.postgres_url`` is set, else in ``threads_db``."""
        if settings.postgres_url:
            return PostgresThreadIndex(settings.postgres_url)
        return ThreadIndex(settings.threads_db)

    def _connect(self) -> Any:
        """A connection in autocommit mode, the tables created."""
        conn = connect(self.path)
        marks = ", ".join("?" * len(_SCHEMA_NAMES))
        sql = f"SELECT COUNT(*) FROM sqlite_master WHERE name IN ({marks})"
        if conn.execute(sql, _SCHEMA_NAMES).fetchone()[0] < len(_SCHEMA_NAMES):
            _create_tables(conn)  # only then: creating waits for the write lock
        return conn

    def _saved(self) -> bool:
        """Whether there may be threads to read (the file exists)."""
        return self._conn is not None or self.path.exists()

    @property
    def conn(self) -> Any:
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ThreadIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[tuple[Any, ...]]:
        """Run one statement; its rows, if it returns any."""
        with self._lock:
            cur = self.conn.execute(sql.replace("?", self.placeholder), tuple(params))
            return [tuple(row) for row in cur.fetchall()] if cur.description else []

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            conn = self.conn
            conn.execute(self.begin)
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def list(self, limit: int | None = None) -> builtins.list[ThreadInfo]:
        """Threads, most recently updated first. Reads nothing when the file is absent."""
        if not self._saved():
            return []
        sql = _THREAD_COLUMNS + " ORDER BY updated DESC"
        rows = self._run(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ())
        return [ThreadInfo(*row) for row in rows]

    def get(self, thread_id: str) -> ThreadInfo | None:
        rows = self._run(_THREAD_COLUMNS + " WHERE id = ?", (thread_id,))
        return ThreadInfo(*rows[0]) if rows else None

    def resolve(self, ref: str) -> ThreadInfo:
        """A thread from its id, a unique prefix of it, or ``last``."""
        ref = ref.strip()
        if ref == "last":
            found = self.list(limit=1)
            if not found:
                raise ThreadNotFound("there are no saved threads yet")
            return found[0]
        if not ref:
            raise ThreadNotFound("give a thread id (see `ahora threads`)")
        if not self._saved():
            raise ThreadNotFound(f"no thread {ref!r} (see `ahora threads`)")
        exact = self.get(ref)
        if exact:
            return exact
        pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._run(
            _THREAD_COLUMNS + " WHERE id LIKE ? ESCAPE '\\' ORDER BY updated DESC LIMIT 6",
            (pattern,),
        )
        if not rows:
            raise ThreadNotFound(f"no thread {ref!r} (see `ahora threads`)")
        if len(rows) > 1:
            ids = ", ".join(r[0][:12] for r in rows[:5])
            raise ThreadNotFound(f"{ref!r} matches several threads ({ids}); give more of the id")
        return ThreadInfo(*rows[0])

    def _touch(self, thread_id: str, question: str, model: str | None, now: float) -> None:
        """Create the thread's row or mark it updated (and, in PostgreSQL, lock it
        until the transaction ends, so two machines number their turns in turn)."""
        self._run(
            "INSERT INTO ahora_threads (id, title, created, updated, turns, model) "
            "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT(id) DO UPDATE SET "
            "updated = excluded.updated, "
            "model = COALESCE(excluded.model, ahora_threads.model), "
            "title = CASE WHEN ahora_threads.title = '' THEN excluded.title "
            "ELSE ahora_threads.title END",
            (thread_id, " ".join(question.split())[:80], now, now, model),
        )

    def start_turn(self, thread_id: str, question: str, model: str | None) -> None:
        """Record that a turn began, so even a killed turn (whose finished steps are
        saved) leaves a listed thread; ``drop_unfinished`` takes it back when the turn
        is undone instead."""
        with self._transaction():
            self._touch(thread_id, question, model, time.time())

    def drop_unfinished(self, thread_id: str) -> bool:
        """Forget a thread that has no finished turn (its first ask failed or was
        interrupted, and undone): no 0-turn threads in the list. True when it was
        dropped: the caller then drops its checkpoint too, so no command (``threads
        export``) names a thread the others deny."""
        with self._transaction():
            rows = self._run("SELECT 1 FROM ahora_threads WHERE id = ? AND turns = 0", (thread_id,))
            self._run("DELETE FROM ahora_threads WHERE id = ? AND turns = 0", (thread_id,))
        return bool(rows)

    def finish_turn(
        self,
        thread_id: str,
        *,
        question: str,
        answer: str,
        sources: Sequence[dict[str, Any]] = (),
        tool_calls: Sequence[dict[str, Any]] = (),
        model: str | None = None,
    ) -> int:
        """Record a finished turn; returns its number (1 for the first)."""
        now = time.time()
        with self._transaction():
            self._touch(thread_id, question, model, now)
            ((count,),) = self._run(
                "SELECT COUNT(*) FROM ahora_turns WHERE thread_id = ?", (thread_id,)
            )
            number = int(count) + 1
            self._run(
                "INSERT INTO ahora_turns (thread_id, number, question, answer, sources, "
                "tool_calls, model, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    thread_id,
                    number,
                    question,
                    answer,
                    json.dumps(
                        [{"url": s.get("url", ""), "title": s.get("title", "")} for s in sources],
                        ensure_ascii=False,
                    ),
                    json.dumps(list(tool_calls), ensure_ascii=False, default=str),
                    model,
                    now,
                ),
            )
            self._run(
                "UPDATE ahora_threads SET turns = ?, updated = ? WHERE id = ?",
                (number, now, thread_id),
            )
        return number

    def record(self, answer: Answer) -> int | None:
        """Record the turn an ``Agent(threads=True)`` just finished (its question is the
        last human message); its number, or None for a run paused for approval."""
        if answer.pending or not answer.thread_id:
            return None
        question = next(
            (m.text for m in reversed(answer.messages) if getattr(m, "type", "") == "human"), ""
        )
        return self.finish_turn(
            answer.thread_id,
            question=question,
            answer=answer.text,
            sources=[dict(s) for s in answer.sources],
            tool_calls=[dict(c) for c in answer.tool_calls],
            model=answer.model,
        )

    def turns(self, thread_id: str) -> builtins.list[Turn]:
        rows = self._run(
            "SELECT number, question, answer, sources, tool_calls, model, created "
            "FROM ahora_turns WHERE thread_id = ? ORDER BY number",
            (thread_id,),
        )
        return [Turn(n, q, a, json.loads(s), json.loads(t), m, c) for n, q, a, s, t, m, c in rows]

    def delete(self, thread_id: str) -> None:
        """Forget a thread: its index rows and, when they live here, its checkpoints
        (LangGraph's tables in the same file or database), in one transaction."""
        with self._transaction():
            self._run("DELETE FROM ahora_threads WHERE id = ?", (thread_id,))
            self._run("DELETE FROM ahora_turns WHERE thread_id = ?", (thread_id,))
            tables = {row[0] for row in self._run(self.tables_sql)}
            # The runs of the agents it called as tools go with it (``ahora.subagents``
            # keeps them under ``THREAD/subagent:CALL_ID``).
            below = thread_id + SUBRUN_THREAD
            for table in self.checkpoint_tables:
                if table in tables:
                    self._run(
                        f"DELETE FROM {table} WHERE thread_id = ? "
                        "OR substr(thread_id, 1, CAST(? AS INTEGER)) = ?",
                        (thread_id, len(below), below),
                    )
        self.compact()

    def compact(self) -> None:
        """Give the file's freed pages back (SQLite)."""
        compact(self.conn)


class PostgresThreadIndex(ThreadIndex):
    """The thread index in PostgreSQL (``AHORA_POSTGRES_URL``), shared by every machine
    using the database: same tables and SQL, through psycopg (imported on first use)."""

    placeholder = "%s"
    begin = "BEGIN"
    tables_sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    checkpoint_tables = ("checkpoint_writes", "checkpoint_blobs", "checkpoints")

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn = None
        self._lock = threading.RLock()

    def _connect(self) -> Any:
        # Not prepared: safe behind a pooler such as PgBouncer.
        conn = connect_postgres(self.url, autocommit=True, prepare_threshold=None)
        try:
            present = conn.execute(
                "SELECT "
                + " AND ".join(f"to_regclass('{name}') IS NOT NULL" for name in _SCHEMA_NAMES)
            ).fetchone()
            if not (present and present[0]):
                # Only then: CREATE needs rights on the schema (and IF NOT EXISTS is
                # checked after privileges), which roles that merely use ahora lack.
                with conn.transaction():
                    # Two machines creating the tables at once would collide on the catalog.
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    _create_tables(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _saved(self) -> bool:
        return True

    def compact(self) -> None:
        """Nothing to do: PostgreSQL reclaims deleted rows itself (autovacuum)."""


_SCHEMA_LOCK = 0x61686F7261  # "ahora": the advisory lock held while creating the tables
