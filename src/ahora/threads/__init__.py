"""Saved conversations: a compact LangGraph checkpointer plus a plain index of threads.

By default both live in one SQLite file (``settings.threads_db``); with
``settings.postgres_url`` both move to PostgreSQL, so every machine using the
database sees the same threads. By concern:

* ``index``      ahora's thread index (``ThreadIndex``, ``PostgresThreadIndex``): list,
                 show and delete threads with ``sqlite3`` or psycopg alone, no LangGraph.
* ``sqlite``     the SQLite file's pragmas and compaction, and ``CompactSqliteSaver``
                 (each message stored once; the whole checkpointer API, sync and async).
* ``postgres``   the PostgreSQL checkpointers (needs ``ahora[postgres]``; not imported
                 here, import ``ahora.threads.postgres``).
* ``pgconnect``  connecting to PostgreSQL with the password hidden.
* ``store``      ``open_checkpointer`` / ``close_checkpointer``: the one store for settings;
                 ``record_turn`` lists an ``Agent(threads=True)`` turn.
* ``turnlock``   one turn at a time per thread, across processes (``ThreadBusy``).
* ``guard``      the per-checkpoint checks both stores share (``ThreadBusy``,
                 ``StaleCheckpoint``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ahora.threads.index import PostgresThreadIndex, ThreadIndex, ThreadInfo, ThreadNotFound, Turn
from ahora.threads.pgconnect import connect_postgres, redact
from ahora.threads.store import close_checkpointer, open_checkpointer, record_turn

if TYPE_CHECKING:
    from ahora.threads.compact_saver import compact_saver_class, open_sqlite_saver

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
    "record_turn",
    "redact",
]


def __getattr__(name: str) -> Any:
    # The SQLite saver imports LangGraph: loaded when a saver is opened, not on import.
    if name in ("compact_saver_class", "open_sqlite_saver"):
        from ahora.threads import compact_saver

        return getattr(compact_saver, name)
    raise AttributeError(f"module 'ahora.threads' has no attribute {name!r}")
