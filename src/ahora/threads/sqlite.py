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

import contextlib
import itertools
import operator
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from ahora.settings import private_file

if TYPE_CHECKING:
    pass

__all__ = ["compact", "connect", "prepare_connection"]


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
