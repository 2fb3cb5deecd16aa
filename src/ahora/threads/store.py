"""Opening and closing the checkpointer of saved threads: SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
import inspect
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any

from ahora.settings import Settings

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from ahora.answer import Answer
    from ahora.threads.index import ThreadIndex

__all__ = ["close_checkpointer", "open_checkpointer", "record_turn"]


def open_checkpointer(settings: Settings) -> BaseCheckpointSaver[Any]:
    """The checkpointer for saved threads: PostgreSQL when ``postgres_url`` is set,
    else the compact SQLite saver on ``settings.threads_db``; every checkpoint kept
    with ``settings.keep_history``."""
    keep = settings.keep_history
    if settings.postgres_url:
        from ahora.threads.postgres import postgres_checkpointer  # type: ignore[import-not-found,unused-ignore]

        saver: BaseCheckpointSaver[Any] = postgres_checkpointer(
            settings.postgres_url, keep_history=keep
        )
        return saver
    from ahora.threads.compact_saver import open_sqlite_saver

    return open_sqlite_saver(settings.threads_db, keep_history=keep)


def close_checkpointer(saver: Any) -> None:
    """Close the saver's connection, if it has one: SQLite (compacted first) or a
    PostgreSQL one (``ahora.threads.postgres``; a psycopg connection or pool).

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


def record_turn(index: ThreadIndex, saver: Any, answer: Answer) -> None:
    """After a finished turn: list it in the index, then give freed pages back (best
    effort: the turn is saved already, a locked file only shrinks at the next turn)."""
    index.record(answer)
    if hasattr(saver, "compact"):
        with contextlib.suppress(Exception):
            saver.compact()
