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

Each message is stored once (``ahora_messages``, by thread and position); the
compact saver's checkpoints hold ``{"__ahora_messages__": n}`` (the thread's first n
messages) instead of the list, so a step writes what it added, not the whole
conversation again (a turn replacing messages, as an undo does, rewrites from the
first change on). The saver remembers which message objects it wrote or read last (and
their content and tool-call objects), so it knows which are new without serializing
them; a message changed in place below those (a nested dict edited) is not seen.
Reading back the checkpoint it wrote or read last hands out those same objects instead
of decoding every message again (at 1,000 turns that decoding was a fifth of a turn's
CPU); if any of them was given new content or tool calls since, it reads the rows.

Reading never takes the write lock: pragmas that need it (``auto_vacuum``, switching to
WAL) run only on a new file, so listing and showing threads work while another process
writes, and on a file the user may only read. The saver answers LangGraph's whole
``BaseCheckpointSaver`` API, sync and async (the async methods run the sync ones in a
worker thread: one object serves ``Agent.ask`` and ``Agent.aask``).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import itertools
import json
import operator
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from ahora.settings import private_file
from ahora.threads.guard import check_not_stale, check_parent
from ahora.threads.threaded import SyncBackedAsync
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
    private_file(path)  # 0600 in a 0700 folder: every conversation is in it
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
    """Give freed pages back to the file system and empty the WAL.

    ``executescript``: through ``execute`` Python's sqlite3 steps the pragma once, and
    each step frees one page."""
    if conn.in_transaction:  # executescript would commit it: free what one step frees
        conn.execute("PRAGMA incremental_vacuum").fetchall()
    else:
        conn.executescript("PRAGMA incremental_vacuum;")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


_LATEST = "SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?"
_RUN_ID = "json_extract(CAST(metadata AS TEXT), '$.run_id')"
_MESSAGES_TABLE = """CREATE TABLE IF NOT EXISTS ahora_messages (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    pos INTEGER NOT NULL,
    id TEXT NOT NULL,
    type TEXT,
    value BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, pos)
)"""
_REF = "__ahora_messages__"  # in a checkpoint: {_REF: n}, the thread's first n messages
_KEPT_THREADS = 64  # threads whose last messages a saver remembers (then: rewrite once)


class _Marks(NamedTuple):
    """What tells a message written before from one to write again, by position: the
    object, and the objects its content and tool calls are (LangChain's approval
    middleware assigns new tool calls to a message already saved). A mark is the same
    when its objects are the same or equal ones (the same value to store)."""

    messages: list[Any]
    contents: list[Any]
    tool_calls: list[Any]


def _marks(messages: Sequence[Any]) -> _Marks:
    """The marks of ``messages``, built with ``map`` over the instances' ``__dict__``:
    this runs for every message of the thread at every step (a pydantic ``getattr`` of
    a missing field raises and catches, 50x slower; a Python loop was 20% of a turn at
    1,000 turns)."""
    fields: list[dict[str, Any]] = list(map(vars, messages))
    contents = map(dict.get, fields, itertools.repeat("content"))
    tool_calls = map(dict.get, fields, itertools.repeat("tool_calls"))
    return _Marks(list(messages), list(contents), list(tool_calls))


def _first_change(kept: _Marks, now: _Marks) -> int:
    """The first position where ``now`` differs from ``kept``. The lists are compared
    whole first (in C: the common case is a thread that only grew)."""
    common = min(len(kept.messages), len(now.messages))
    first = common
    for old, new in zip(kept, now, strict=True):
        if old[:common] != new[:common]:
            first = min(first, next(i for i in range(common) if old[i] != new[i]))
    return first


class _Kept(NamedTuple):
    """A thread's messages as the saver last wrote or read them, and in which checkpoint."""

    checkpoint_id: str
    marks: _Marks


def _stored_apart(value: Any, known: list[Any]) -> bool:
    """A message list ahora stores message by message (every item a message with an id).
    The items still the ones of ``known`` (what the last step stored) are not checked
    again: a thread that only grew has only its new messages looked at."""
    from langchain_core.messages import BaseMessage

    if not isinstance(value, list) or not value:
        return False
    common = min(len(value), len(known))
    rest = value[common:] if common and value[:common] == known[:common] else value
    return all(map(isinstance, rest, itertools.repeat(BaseMessage))) and all(map(_ID, rest))


_ID = operator.attrgetter("id")


@functools.cache
def compact_saver_class() -> type[SqliteSaver]:
    """``CompactSqliteSaver``, built on first use so importing this module stays light."""
    from langgraph.checkpoint.base import WRITES_IDX_MAP, get_checkpoint_id, get_checkpoint_metadata
    from langgraph.checkpoint.sqlite import SqliteSaver

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
                found = builtins.list(
                    super().list(config, filter=filter, before=before, limit=limit)
                )
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
