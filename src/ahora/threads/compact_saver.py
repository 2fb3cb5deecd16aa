"""``CompactSqliteSaver``: LangGraph's ``SqliteSaver`` keeping each thread's latest
checkpoint, each message stored once (the file's format: ``ahora.threads.sqlite``).

A module of its own so that importing ``ahora.threads`` (the CLI lists threads on
every start) does not import LangGraph: ``open_sqlite_saver`` imports this module
when a saver is opened.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import WRITES_IDX_MAP, get_checkpoint_id, get_checkpoint_metadata
from langgraph.checkpoint.sqlite import SqliteSaver

from ahora.threads.guard import check_not_stale, check_parent
from ahora.threads.sqlite import (
    _KEPT_THREADS,
    _LATEST,
    _MESSAGES_TABLE,
    _REF,
    _RUN_ID,
    _first_change,
    _Kept,
    _marks,
    _stored_apart,
    compact,
    connect,
    prepare_connection,
)
from ahora.threads.threaded import SyncBackedAsync
from ahora.threads.turnlock import hold_sqlite_thread

__all__ = ["CompactSqliteSaver", "compact_saver_class", "open_sqlite_saver"]


class CompactSqliteSaver(SyncBackedAsync, SqliteSaver):
    """``SqliteSaver`` keeping only each thread's latest checkpoint and its writes
    (``keep_history=True`` keeps every one), with the async API and one writer
    per thread.

    Not for graphs with ``DeltaChannel`` state (their checkpoints need their
    ancestors): pruning is skipped when a checkpoint's metadata says it has one.
    """

    def __init__(self, conn: sqlite3.Connection, *, keep_history: bool = False) -> None:
        super().__init__(conn)
        self.lock = threading.RLock()  # type: ignore[assignment]  # re-entered below
        self.keep_history = keep_history
        self._dirty = False  # written since the last compact()
        # (thread, ns) -> the messages last written or read, by position
        self._kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()

    def setup(self) -> None:
        if self.is_setup:
            return
        prepare_connection(self.conn)
        super().setup()
        found = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'ahora_messages'"
        ).fetchone()
        if not found:  # only then: creating waits for the write lock
            with contextlib.suppress(sqlite3.OperationalError):  # a read-only file
                self.conn.execute(_MESSAGES_TABLE)
                self.conn.commit()

    def _remember(self, key: tuple[str, str], kept: _Kept) -> None:
        self._kept[key] = kept
        self._kept.move_to_end(key)
        while len(self._kept) > _KEPT_THREADS:
            self._kept.popitem(last=False)

    def _with_messages(self, found: Any) -> Any:
        """``found`` (a checkpoint tuple) with its message reference resolved."""
        if found is None:
            return None
        values = found.checkpoint["channel_values"]
        ref = values.get("messages")
        if not (isinstance(ref, dict) and _REF in ref):
            return found
        conf = found.config["configurable"]
        key = (str(conf["thread_id"]), str(conf.get("checkpoint_ns", "")))
        count = int(ref[_REF])
        checkpoint_id = str(found.checkpoint["id"])
        kept = self._kept.get(key)
        if (
            kept is not None
            and kept.checkpoint_id == checkpoint_id
            and len(kept.marks.messages) == count
            and _marks(kept.marks.messages) == kept.marks
        ):
            self._kept.move_to_end(key)
            messages = list(kept.marks.messages)
            checkpoint = {
                **found.checkpoint,
                "channel_values": {**values, "messages": messages},
            }
            return found._replace(checkpoint=checkpoint)
        rows = self.conn.execute(
            "SELECT type, value FROM ahora_messages WHERE thread_id = ? AND "
            "checkpoint_ns = ? AND pos < ? ORDER BY pos",
            (*key, count),
        ).fetchall()
        if len(rows) != count:
            raise RuntimeError(f"thread {key[0]}: {count} messages expected, {len(rows)} saved")
        messages = [self.serde.loads_typed((t, v)) for t, v in rows]
        self._remember(key, _Kept(checkpoint_id, _marks(messages)))
        checkpoint = {**found.checkpoint, "channel_values": {**values, "messages": messages}}
        return found._replace(checkpoint=checkpoint)

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
        with self.lock:  # the checkpoint and its messages from one snapshot
            self.setup()
            began = not self.conn.in_transaction
            if began:
                self.conn.execute("BEGIN")
            try:
                found = self._with_messages(super().get_tuple(config))
            finally:
                if began:
                    self.conn.commit()
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
        key = (thread_id, ns)
        messages = checkpoint["channel_values"].get("messages")
        known = self._kept.get(key)
        apart = not self.keep_history and _stored_apart(
            messages, known.marks.messages if known is not None else []
        )
        if apart:
            # Rewrite from the first message that is not the one written there last.
            marks = _marks(messages)
            first = _first_change(known.marks, marks) if known is not None else 0
            rows = [
                (thread_id, ns, i, m.id, *self.serde.dumps_typed(m))
                for i, m in enumerate(messages[first:], start=first)
            ]
            values = {**checkpoint["channel_values"], "messages": {_REF: len(messages)}}
            checkpoint = {**checkpoint, "channel_values": values}
        type_, blob = self.serde.dumps_typed(checkpoint)
        meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False)
        with self._write() as cur:
            (latest,) = cur.execute(_LATEST, (thread_id, ns)).fetchone()
            if not self.keep_history:
                check_parent(thread_id, conf.get("checkpoint_id"), latest)
            if apart:
                if latest is None and first:  # a new (or deleted) thread: all of them
                    rows[:0] = [
                        (thread_id, ns, i, m.id, *self.serde.dumps_typed(m))
                        for i, m in enumerate(messages[:first])
                    ]
                    first = 0
                cur.execute(
                    "DELETE FROM ahora_messages WHERE thread_id = ? AND checkpoint_ns = ? "
                    "AND pos >= ?",
                    (thread_id, ns, first),
                )
                cur.executemany(
                    "INSERT OR REPLACE INTO ahora_messages (thread_id, checkpoint_ns, pos, "
                    "id, type, value) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
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
        if apart:
            self._remember(key, _Kept(str(checkpoint["id"]), marks))
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
        """LangGraph's ``put_writes`` in one transaction with the clean-up: writes
        are saved in the background and may land after the next checkpoint (which
        already holds them), and are dropped then."""
        conf = config["configurable"]
        thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        checkpoint_id = str(conf["checkpoint_id"])
        verb = "REPLACE" if all(w[0] in WRITES_IDX_MAP for w in writes) else "IGNORE"
        rows = [
            (
                thread_id,
                ns,
                checkpoint_id,
                task_id,
                task_path,
                WRITES_IDX_MAP.get(channel, idx),
                channel,
                *self.serde.dumps_typed(value),
            )
            for idx, (channel, value) in enumerate(writes)
        ]
        with self._write() as cur:
            if not self.keep_history:
                (latest,) = cur.execute(_LATEST, (thread_id, ns)).fetchone()
                if latest is not None and checkpoint_id < latest:
                    return
            cur.executemany(
                f"INSERT OR {verb} INTO writes (thread_id, checkpoint_ns, checkpoint_id, "
                "task_id, task_path, idx, channel, type, value) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def list(
        self,
        config: Any,
        *,
        filter: dict[str, Any] | None = None,
        before: Any = None,
        limit: int | None = None,
    ) -> Iterator[Any]:
        with self.lock:
            found = builtins.list(super().list(config, filter=filter, before=before, limit=limit))
            yield from (self._with_messages(t) for t in found)

    def _forget(self, cur: sqlite3.Cursor, thread_id: str) -> None:
        cur.execute("DELETE FROM ahora_messages WHERE thread_id = ?", (thread_id,))
        self._drop_kept(thread_id)

    def _drop_kept(self, thread_id: str) -> None:
        for key in [k for k in self._kept if k[0] == thread_id]:
            del self._kept[key]

    def delete_thread(self, thread_id: str) -> None:
        with self._write() as cur:
            for table in ("checkpoints", "writes"):
                cur.execute(f"DELETE FROM {table} WHERE thread_id = ?", (str(thread_id),))
            self._forget(cur, str(thread_id))

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
        self._drop_kept(target)  # its messages are replaced: read them again
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
            cur.execute(
                "INSERT OR REPLACE INTO ahora_messages (thread_id, checkpoint_ns, pos, id, "
                "type, value) SELECT ?, checkpoint_ns, pos, id, type, value "
                "FROM ahora_messages WHERE thread_id = ?",
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
                    self._forget(cur, thread_id)
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


def compact_saver_class() -> type[SqliteSaver]:
    """``CompactSqliteSaver`` (kept for callers of this older name)."""
    return CompactSqliteSaver


def open_sqlite_saver(path: Path, *, keep_history: bool = False) -> SqliteSaver:
    """A ``CompactSqliteSaver`` on ``path`` (created with its folder if needed);
    ``keep_history=True`` keeps every checkpoint (LangGraph's time travel)."""
    conn = connect(path)
    # The saver commits itself; give it sqlite3's default transaction handling.
    conn.isolation_level = "DEFERRED"
    saver = CompactSqliteSaver(conn, keep_history=keep_history)
    saver.setup()
    return saver
