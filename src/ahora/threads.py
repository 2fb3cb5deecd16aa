"""Saved conversations: a compact LangGraph checkpointer plus a plain index of threads.

By default two things live in one SQLite file (``settings.threads_db``):

* LangGraph's ``checkpoints`` and ``writes`` tables, written by ``CompactSqliteSaver``:
  LangGraph's own ``SqliteSaver`` that, after each ``put``, deletes the thread's older
  checkpoints and their writes. The latest checkpoint holds the whole state (ahora's
  graphs keep messages in an ``add_messages`` channel), so a run killed mid-way loses
  at most the step in flight, and the file holds one copy of each conversation instead
  of one per step (stock: 60 steps with 10 KB tool outputs wrote ~39 MB). Time travel
  through old checkpoints is what this gives up.
* ahora's own ``ahora_threads`` and ``ahora_turns`` tables (``ThreadIndex``): id, title,
  dates, turn count, and each turn's question and answer, so ``ahora threads`` lists
  and shows conversations with the stdlib ``sqlite3`` alone, without importing
  LangChain or LangGraph.

The file uses WAL (readers never block the writer) and ``auto_vacuum=INCREMENTAL``;
``compact()`` after a turn returns freed pages and truncates the WAL, so the file stays
close to the size of the text it holds.

With ``settings.postgres_url`` both move to PostgreSQL, so every machine using the
database sees the same threads: LangGraph's tables through ``ahora.postgres`` (whose
``compact()`` prunes old checkpoints the same way), and the index through
``PostgresThreadIndex``: the same class and SQL as the SQLite one, with psycopg
(imported on first use) instead of ``sqlite3``.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import inspect
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ahora.errors import InvalidSettings, ThreadNotFound
from ahora.settings import Settings

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.sqlite import SqliteSaver

__all__ = [
    "PostgresThreadIndex",
    "ThreadIndex",
    "ThreadInfo",
    "ThreadNotFound",
    "Turn",
    "close_checkpointer",
    "compact_saver_class",
    "connect_postgres",
    "open_checkpointer",
    "open_sqlite_saver",
    "redact",
]


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


def prepare_connection(conn: sqlite3.Connection) -> None:
    """Pragmas every connection to the threads file uses.

    ``auto_vacuum`` only takes effect on a file that has no tables yet, so this runs
    before anyone creates one. ``synchronous=NORMAL`` with WAL survives a killed
    process (only a power cut can lose the last commits).
    """
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA journal_size_limit=1048576")


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
    prepare_connection(conn)
    return conn


def compact(conn: sqlite3.Connection) -> None:
    """Give freed pages back to the file system and empty the WAL."""
    conn.execute("PRAGMA incremental_vacuum").fetchall()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


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
    checkpoint_tables: tuple[str, ...] = ("checkpoints", "writes")  # LangGraph's, if here

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: Any = None

    @classmethod
    def for_settings(cls, settings: Settings) -> ThreadIndex:
        """In PostgreSQL when ``settings.postgres_url`` is set, else in ``threads_db``."""
        if settings.postgres_url:
            return PostgresThreadIndex(settings.postgres_url)
        return ThreadIndex(settings.threads_db)

    def _connect(self) -> Any:
        """A connection in autocommit mode, the tables created."""
        conn = _connect(self.path)
        _create_tables(conn)
        return conn

    def _saved(self) -> bool:
        """Whether there may be threads to read (the file exists)."""
        return self._conn is not None or self.path.exists()

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ThreadIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[tuple[Any, ...]]:
        """Run one statement; its rows, if it returns any."""
        cur = self.conn.execute(sql.replace("?", self.placeholder), tuple(params))
        return [tuple(row) for row in cur.fetchall()] if cur.description else []

    @contextmanager
    def _transaction(self) -> Iterator[None]:
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
        """Record that a turn began, so even a killed turn leaves a listed thread."""
        with self._transaction():
            self._touch(thread_id, question, model, time.time())

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
            for table in self.checkpoint_tables:
                if table in tables:
                    self._run(f"DELETE FROM {table} WHERE thread_id = ?", (thread_id,))
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

    def _connect(self) -> Any:
        # Not prepared: safe behind a pooler such as PgBouncer.
        conn = connect_postgres(self.url, autocommit=True, prepare_threshold=None)
        try:
            present = conn.execute(
                "SELECT to_regclass('ahora_threads') IS NOT NULL"
                " AND to_regclass('ahora_turns') IS NOT NULL"
                " AND to_regclass('ahora_threads_updated') IS NOT NULL"
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


def connect_postgres(url: str, **options: Any) -> Any:
    """``psycopg.Connection.connect(url, **options)``; a missing psycopg or an unreachable
    server is ``InvalidSettings``, with the password hidden."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise InvalidSettings(
            "PostgreSQL support is not installed: pip install 'ahora[postgres]'"
        ) from exc
    options.setdefault("connect_timeout", 10)  # a host that drops packets must not hang
    try:
        return psycopg.Connection.connect(url, **options)
    except psycopg.Error as exc:
        raise InvalidSettings(_cannot_connect(url, exc)) from exc


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _cannot_connect(url: str, exc: BaseException) -> str:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    password = urlsplit(url).password
    if password and len(password) >= 4:  # shorter ones would mangle ordinary words
        reason = reason.replace(password, "***")
    return f"cannot connect to PostgreSQL at {redact(url)} (AHORA_POSTGRES_URL): {reason}"


@functools.cache
def compact_saver_class() -> type[SqliteSaver]:
    """``CompactSqliteSaver``, built on first use so importing this module stays light."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    class CompactSqliteSaver(SqliteSaver):
        """``SqliteSaver`` keeping only each thread's latest checkpoint and its writes.

        Not for graphs with ``DeltaChannel`` state (their checkpoints need their
        ancestors): pruning is skipped when a checkpoint's metadata says it has one.
        """

        def setup(self) -> None:
            if self.is_setup:
                return
            prepare_connection(self.conn)
            super().setup()

        def put(
            self,
            config: Any,
            checkpoint: Any,
            metadata: Any,
            new_versions: Any,
        ) -> Any:
            saved = super().put(config, checkpoint, metadata, new_versions)
            if not (metadata or {}).get("counters_since_delta_snapshot"):
                conf = saved["configurable"]
                self._prune(str(conf["thread_id"]), conf["checkpoint_ns"], conf["checkpoint_id"])
            return saved

        def put_writes(
            self,
            config: Any,
            writes: Sequence[tuple[str, Any]],
            task_id: str,
            task_path: str = "",
        ) -> None:
            super().put_writes(config, writes, task_id, task_path)
            # Writes are saved in the background and may land after the next
            # checkpoint (which already holds them): drop them if so.
            conf = config["configurable"]
            with self.cursor() as cur:
                cur.execute(
                    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND "
                    "checkpoint_id = ? AND checkpoint_id < (SELECT MAX(checkpoint_id) FROM "
                    "checkpoints WHERE thread_id = ? AND checkpoint_ns = ?)",
                    (
                        str(conf["thread_id"]),
                        str(conf.get("checkpoint_ns", "")),
                        str(conf["checkpoint_id"]),
                        str(conf["thread_id"]),
                        str(conf.get("checkpoint_ns", "")),
                    ),
                )

        def _prune(self, thread_id: str, ns: str, latest: str) -> None:
            with self.cursor() as cur:
                for table in ("checkpoints", "writes"):
                    cur.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_ns = ? "
                        "AND checkpoint_id < ?",
                        (thread_id, ns, latest),
                    )

        def compact(self) -> None:
            """Return freed pages and empty the WAL (call after a turn)."""
            with self.lock:
                compact(self.conn)

    return CompactSqliteSaver


def open_sqlite_saver(path: Path) -> SqliteSaver:
    """A ``CompactSqliteSaver`` on ``path`` (created with its folder if needed)."""
    conn = _connect(path)
    # The saver commits itself; give it sqlite3's default transaction handling.
    conn.isolation_level = "DEFERRED"
    saver = compact_saver_class()(conn)
    saver.setup()
    return saver


def open_checkpointer(settings: Settings) -> BaseCheckpointSaver[Any]:
    """The checkpointer for saved threads: PostgreSQL when ``postgres_url`` is set,
    else the compact SQLite saver on ``settings.threads_db``."""
    if settings.postgres_url:
        from ahora.postgres import postgres_checkpointer  # type: ignore[import-not-found,unused-ignore]

        saver: BaseCheckpointSaver[Any] = postgres_checkpointer(settings.postgres_url)
        return saver
    return open_sqlite_saver(settings.threads_db)


def close_checkpointer(saver: Any) -> None:
    """Close the saver's connection, if it has one: SQLite (compacted first) or a
    PostgreSQL one (``ahora.postgres``; a psycopg connection or pool).

    An async connection (``apostgres_checkpointer``) is left alone: close it with
    ``await saver.conn.close()``.
    """
    conn = getattr(saver, "conn", None)
    if isinstance(conn, sqlite3.Connection):
        with closing(conn), contextlib.suppress(sqlite3.Error, OSError):
            if hasattr(saver, "compact"):
                saver.compact()  # best effort: the turn is saved already
        return
    close = getattr(conn, "close", None)
    if close is not None and not inspect.iscoroutinefunction(close):
        close()
