"""The threads file in SQLite: its pragmas, its compaction and the compact checkpointer.

LangGraph's ``checkpoints`` and ``writes`` tables are written by ``CompactSqliteSaver``:
LangGraph's own ``SqliteSaver`` that, after each ``put``, deletes the thread's older
checkpoints and their writes. The latest checkpoint holds the whole state (ahora's
graphs keep messages in an ``add_messages`` channel), so a run killed mid-way loses
at most the step in flight, and the file holds one copy of each conversation instead
of one per step (stock: 60 steps with 10 KB tool outputs wrote ~39 MB). Time travel
through old checkpoints is what this gives up.

The file uses WAL (readers never block the writer) and ``auto_vacuum=INCREMENTAL``;
``compact()`` after a turn returns freed pages and truncates the WAL, so the file stays
close to the size of the text it holds.

Reading never takes the write lock: pragmas that need it (``auto_vacuum``, switching to
WAL) run only on a new file, so listing and showing threads work while another process
writes, and on a file the user may only read. The saver answers LangGraph's whole
``BaseCheckpointSaver`` API, sync and async (the async methods run the sync ones in a
worker thread: one object serves ``Agent.ask`` and ``Agent.aask``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ahora.threads.guard import check_not_stale, check_parent
from ahora.threads.turnlock import hold_sqlite_thread

if TYPE_CHECKING:
    from langgraph.checkpoint.sqlite import SqliteSaver

__all__ = ["compact", "compact_saver_class", "connect", "open_sqlite_saver", "prepare_connection"]


def prepare_connection(conn: sqlite3.Connection) -> None:
    """Pragmas every connection to the threads file uses, without taking the write lock.

    ``auto_vacuum`` only takes effect on a file that has no tables yet, and setting it
    (like switching to WAL) waits for the write lock; both run only on a new file.
    ``synchronous=NORMAL`` with WAL survives a killed process (only a power cut can
    lose the last commits).
    """
    if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        with contextlib.suppress(sqlite3.OperationalError):  # read-only: read it as it is
            conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA journal_size_limit=1048576")


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the threads file (created with its folder if needed).

    A file the user may only read, in a folder they may not write, cannot get WAL's
    shared-memory file: it is opened read-only, and as ``immutable`` (read as it is on
    disk) when even that fails.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tries = [str(path), f"file:{quote(str(path))}?mode=ro", f"file:{quote(str(path))}?immutable=1"]
    for i, target in enumerate(tries):
        conn = sqlite3.connect(
            target, timeout=10, check_same_thread=False, isolation_level=None, uri=i > 0
        )
        try:
            prepare_connection(conn)
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            readonly = "readonly" in str(exc) or "unable to open" in str(exc)
            if not readonly or i == len(tries) - 1 or not path.exists():
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def compact(conn: sqlite3.Connection) -> None:
    """Give freed pages back to the file system and empty the WAL."""
    conn.execute("PRAGMA incremental_vacuum").fetchall()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


_LATEST = "SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?"
_RUN_ID = "json_extract(CAST(metadata AS TEXT), '$.run_id')"


@functools.cache
def compact_saver_class() -> type[SqliteSaver]:
    """``CompactSqliteSaver``, built on first use so importing this module stays light."""
    from langgraph.checkpoint.base import get_checkpoint_id, get_checkpoint_metadata
    from langgraph.checkpoint.sqlite import SqliteSaver

    class CompactSqliteSaver(SqliteSaver):
        """``SqliteSaver`` keeping only each thread's latest checkpoint and its writes
        (``keep_history=True`` keeps every one), with the async API and one writer
        per thread.

        Not for graphs with ``DeltaChannel`` state (their checkpoints need their
        ancestors): pruning is skipped when a checkpoint's metadata says it has one.
        """

        def __init__(self, conn: sqlite3.Connection, *, keep_history: bool = False) -> None:
            super().__init__(conn)
            self.keep_history = keep_history
            self._dirty = False  # written since the last compact()

        def setup(self) -> None:
            if self.is_setup:
                return
            prepare_connection(self.conn)
            super().setup()

        @contextmanager
        def _write(self) -> Iterator[sqlite3.Cursor]:
            """A cursor in a transaction holding the file's write lock from the start,
            so checking the thread and writing it are one step for every process."""
            with self.lock:
                self.setup()
                cur = self.conn.cursor()
                try:
                    cur.execute("BEGIN IMMEDIATE")
                    yield cur
                    self.conn.commit()
                except BaseException:
                    self.conn.rollback()
                    raise
                finally:
                    cur.close()
                self._dirty = True

        def get_tuple(self, config: Any) -> Any:
            found = super().get_tuple(config)
            wanted = get_checkpoint_id(config)
            if found is None and wanted:
                conf = config["configurable"]
                thread_id, ns = str(conf["thread_id"]), conf.get("checkpoint_ns", "")
                with self.cursor(transaction=False) as cur:
                    (latest,) = cur.execute(_LATEST, (thread_id, ns)).fetchone()
                check_not_stale(thread_id, wanted, latest)
            return found

        def put(
            self,
            config: Any,
            checkpoint: Any,
            metadata: Any,
            new_versions: Any,
        ) -> Any:
            conf = config["configurable"]
            thread_id, ns = str(conf["thread_id"]), conf.get("checkpoint_ns", "")
            type_, blob = self.serde.dumps_typed(checkpoint)
            meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False)
            with self._write() as cur:
                (latest,) = cur.execute(_LATEST, (thread_id, ns)).fetchone()
                if not self.keep_history:
                    check_parent(thread_id, conf.get("checkpoint_id"), latest)
                cur.execute(
                    "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, "
                    "checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        thread_id,
                        ns,
                        checkpoint["id"],
                        conf.get("checkpoint_id"),
                        type_,
                        blob,
                        meta.encode("utf-8", "ignore"),
                    ),
                )
                delta = (metadata or {}).get("counters_since_delta_snapshot")
                if not self.keep_history and not delta:
                    for table in ("checkpoints", "writes"):
                        cur.execute(
                            f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_ns = ? "
                            "AND checkpoint_id < ?",
                            (thread_id, ns, checkpoint["id"]),
                        )
            return {
                "configurable": {
                    "thread_id": conf["thread_id"],
                    "checkpoint_ns": ns,
                    "checkpoint_id": checkpoint["id"],
                }
            }

        def put_writes(
            self,
            config: Any,
            writes: Sequence[tuple[str, Any]],
            task_id: str,
            task_path: str = "",
        ) -> None:
            super().put_writes(config, writes, task_id, task_path)
            self._dirty = True
            if self.keep_history:
                return
            # Writes are saved in the background and may land after the next
            # checkpoint (which already holds them): drop them if so.
            conf = config["configurable"]
            thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
            with self.cursor() as cur:
                cur.execute(
                    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND "
                    f"checkpoint_id = ? AND checkpoint_id < ({_LATEST})",
                    (thread_id, ns, str(conf["checkpoint_id"]), thread_id, ns),
                )

        def delete_thread(self, thread_id: str) -> None:
            super().delete_thread(thread_id)
            self._dirty = True

        def delete_for_runs(self, run_ids: Sequence[str]) -> None:
            """Delete the checkpoints the runs made (``metadata["run_id"]``) and their writes."""
            if not run_ids:
                return
            marks = ", ".join("?" * len(run_ids))
            ids = [str(r) for r in run_ids]
            with self._write() as cur:
                cur.execute(
                    "DELETE FROM writes WHERE (thread_id, checkpoint_ns, checkpoint_id) IN "
                    "(SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints "
                    f"WHERE {_RUN_ID} IN ({marks}))",
                    ids,
                )
                cur.execute(f"DELETE FROM checkpoints WHERE {_RUN_ID} IN ({marks})", ids)

        def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
            """Copy every checkpoint and write of one thread to another."""
            target, source = str(target_thread_id), str(source_thread_id)
            with self._write() as cur:
                cur.execute(
                    "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, "
                    "checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata) "
                    "SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
                    "checkpoint, metadata FROM checkpoints WHERE thread_id = ?",
                    (target, source),
                )
                cur.execute(
                    "INSERT OR REPLACE INTO writes (thread_id, checkpoint_ns, checkpoint_id, "
                    "task_id, task_path, idx, channel, type, value) SELECT ?, checkpoint_ns, "
                    "checkpoint_id, task_id, task_path, idx, channel, type, value "
                    "FROM writes WHERE thread_id = ?",
                    (target, source),
                )

        def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
            """``keep_latest``: each namespace keeps its latest checkpoint and its
            writes; ``delete``: the threads go."""
            if isinstance(thread_ids, str):
                raise TypeError("thread_ids must be a sequence of thread ids, not a str")
            if strategy not in ("keep_latest", "delete"):
                raise ValueError(f"unknown prune strategy: {strategy!r}")
            with self._write() as cur:
                for thread_id in map(str, thread_ids):
                    if strategy == "delete":
                        cur.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,))
                        cur.execute("DELETE FROM writes WHERE thread_id = ?", (thread_id,))
                        continue
                    for table in ("checkpoints", "writes"):
                        cur.execute(
                            f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id < "
                            "(SELECT MAX(c.checkpoint_id) FROM checkpoints c WHERE "
                            f"c.thread_id = {table}.thread_id AND "
                            f"c.checkpoint_ns = {table}.checkpoint_ns)",
                            (thread_id,),
                        )

        def hold_thread(self, thread_id: str) -> AbstractContextManager[None]:
            """The turn lock of ``thread_id`` (``ahora.threads.turnlock``): a turn holds it
            while it runs; ``ThreadBusy`` at once if another turn does."""
            file = self.conn.execute("PRAGMA database_list").fetchone()[2]
            if not file:  # a database in memory: the per-checkpoint check only
                return contextlib.nullcontext()
            return hold_sqlite_thread(Path(file), thread_id)

        def compact(self) -> None:
            """Return freed pages and empty the WAL (call after a turn); nothing to do,
            and no lock taken, when this saver wrote nothing."""
            if not self._dirty:
                return
            with self.lock:
                compact(self.conn)
                self._dirty = False

        # The async API: the sync methods in a worker thread (``self.lock`` keeps one
        # statement at a time on the connection).

        async def aget_tuple(self, config: Any) -> Any:
            return await asyncio.to_thread(self.get_tuple, config)

        async def alist(
            self,
            config: Any,
            *,
            filter: dict[str, Any] | None = None,
            before: Any = None,
            limit: int | None = None,
        ) -> AsyncIterator[Any]:
            def collect() -> list[Any]:
                return list(self.list(config, filter=filter, before=before, limit=limit))

            for item in await asyncio.to_thread(collect):
                yield item

        async def aput(
            self,
            config: Any,
            checkpoint: Any,
            metadata: Any,
            new_versions: Any,
        ) -> Any:
            return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

        async def aput_writes(
            self,
            config: Any,
            writes: Sequence[tuple[str, Any]],
            task_id: str,
            task_path: str = "",
        ) -> None:
            await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

        async def adelete_thread(self, thread_id: str) -> None:
            await asyncio.to_thread(self.delete_thread, thread_id)

        async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
            await asyncio.to_thread(self.delete_for_runs, run_ids)

        async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
            await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

        async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
            await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)

    return CompactSqliteSaver


def open_sqlite_saver(path: Path, *, keep_history: bool = False) -> SqliteSaver:
    """A ``CompactSqliteSaver`` on ``path`` (created with its folder if needed);
    ``keep_history=True`` keeps every checkpoint (LangGraph's time travel)."""
    conn = connect(path)
    # The saver commits itself; give it sqlite3's default transaction handling.
    conn.isolation_level = "DEFERRED"
    saver = compact_saver_class()(conn, keep_history=keep_history)  # type: ignore[call-arg]
    saver.setup()
    return saver
