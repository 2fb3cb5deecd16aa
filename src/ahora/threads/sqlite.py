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
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.checkpoint.sqlite import SqliteSaver

__all__ = ["compact", "compact_saver_class", "connect", "open_sqlite_saver", "prepare_connection"]


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


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
    prepare_connection(conn)
    return conn


def compact(conn: sqlite3.Connection) -> None:
    """Give freed pages back to the file system and empty the WAL."""
    conn.execute("PRAGMA incremental_vacuum").fetchall()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


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
    conn = connect(path)
    # The saver commits itself; give it sqlite3's default transaction handling.
    conn.isolation_level = "DEFERRED"
    saver = compact_saver_class()(conn)
    saver.setup()
    return saver
