"""Threads in PostgreSQL, for several machines or processes sharing conversations.

``pip install 'ahora[postgres]'`` and set ``AHORA_POSTGRES_URL`` (or ``postgres_url``
in the config file) to a libpq URL such as ``postgresql://user:pass@db:5432/ahora``;
``ahora.threads.open_checkpointer`` then picks :func:`postgres_checkpointer`. In
your own code::

    from ahora import Agent
    from ahora.threads.postgres import postgres_checkpointer

    saver = postgres_checkpointer("postgresql://postgres@127.0.0.1:5432/postgres")
    agent = Agent(checkpointer=saver)
    first = agent.ask("Remember the number 7.")
    agent.ask("Which number?", thread=first.thread_id)   # any process, any machine
    saver.conn.close()

LangGraph's ``PostgresSaver`` is sync only (its async methods raise
``NotImplementedError``); the saver returned here also answers the async methods by
running the sync ones in a worker thread, so one saver serves ``Agent.ask`` and
``Agent.aask``. For a fully async server use :func:`apostgres_checkpointer`
(LangGraph's ``AsyncPostgresSaver``). Both create their tables on first use
(``setup()``, which is idempotent).

``PostgresSaver`` keeps every checkpoint of a thread (one per step). Like ahora's
SQLite saver, ``saver.compact()`` keeps only the latest: for each thread the saver
wrote since the last call, LangGraph's own ``prune(strategy="keep_latest")`` deletes
the older checkpoints, their writes and the blobs no kept checkpoint references, in
one transaction per thread on one snapshot. The CLI calls it after every turn; call
it yourself after ``agent.ask`` if you want the same (time travel through old
checkpoints is what it gives up). The CLI's thread index lives in the same database
(``ahora.threads.PostgresThreadIndex``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ahora.errors import InvalidSettings
from ahora.threads.guard import check_not_stale, check_parent
from ahora.threads.pgconnect import cannot_connect, connect_postgres, redact
from ahora.threads.threaded import SyncBackedAsync
from ahora.threads.turnlock import busy, lock_key

try:
    from langgraph.checkpoint.postgres import PostgresSaver
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise InvalidSettings(
        "PostgreSQL support is not installed: pip install 'ahora[postgres]'"
    ) from exc

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import (
        ChannelVersions,
        Checkpoint,
        CheckpointMetadata,
        CheckpointTuple,
    )
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from langgraph.checkpoint.serde.base import SerializerProtocol
    from psycopg import Pipeline

__all__ = [
    "ThreadedPostgresSaver",
    "apostgres_checkpointer",
    "postgres_checkpointer",
    "redact",
]


_LATEST = (
    "SELECT MAX(checkpoint_id) AS latest FROM checkpoints "
    "WHERE thread_id = %s AND checkpoint_ns = %s"
)


def _latest(row: Any) -> str | None:
    return None if row is None or row["latest"] is None else str(row["latest"])


class ThreadedPostgresSaver(SyncBackedAsync, PostgresSaver):
    """``PostgresSaver`` whose async methods run the sync ones in a worker thread, whose
    ``compact()`` keeps only the latest checkpoint of the threads it wrote (unless
    ``keep_history``), and which lets one writer at a time continue a thread.

    A ``put`` takes a transaction-scoped advisory lock keyed on the thread, checks that
    it continues the thread's latest checkpoint (else ``ThreadBusy``) and writes, so two
    machines answering on one thread never silently drop a turn.
    """

    def __init__(
        self,
        conn: Any,
        pipe: Pipeline | None = None,
        serde: SerializerProtocol | None = None,
        *,
        keep_history: bool = False,
    ) -> None:
        import psycopg

        if not isinstance(conn, psycopg.Connection):
            # The lock and the write must share one transaction, so one connection.
            raise InvalidSettings("ThreadedPostgresSaver needs one psycopg Connection, not a pool")
        super().__init__(conn, pipe, serde)
        self._conn: psycopg.Connection[Any] = conn
        # Held across check and write; the base class re-enters it.
        self.lock = threading.RLock()  # type: ignore[assignment]
        self.keep_history = keep_history
        self._written: set[str] = set()  # threads to compact
        self._turns: set[str] = set()  # threads whose turn lock this saver holds

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config["configurable"]
        thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
        with self.lock, self._conn.transaction():
            if not self.keep_history:
                with self._conn.cursor() as cur:
                    cur.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                        ("ahora-thread:" + thread_id,),
                    )
                    row = cur.execute(_LATEST, (thread_id, ns)).fetchone()
                check_parent(thread_id, conf.get("checkpoint_id"), _latest(row))
            saved = super().put(config, checkpoint, metadata, new_versions)
        self._written.add(thread_id)
        return saved

    @contextmanager
    def hold_thread(self, thread_id: str) -> Iterator[None]:
        """The turn lock of ``thread_id``: a session-level advisory lock (the server drops
        it if this connection dies); ``ThreadBusy`` at once if another turn holds it."""
        key = lock_key(str(thread_id))
        with self.lock:
            if thread_id in self._turns:
                raise busy(thread_id)  # advisory locks are re-entrant per connection
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,)).fetchone()
            if not (row and row["ok"]):
                raise busy(thread_id)
            self._turns.add(thread_id)
        try:
            yield
        finally:
            with self.lock:
                self._turns.discard(thread_id)
                if not self._conn.closed:
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        found = super().get_tuple(config)
        wanted = config["configurable"].get("checkpoint_id")
        if found is None and wanted:
            conf = config["configurable"]
            thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
            with self._cursor() as cur:
                row = cur.execute(_LATEST, (thread_id, ns)).fetchone()
            check_not_stale(thread_id, str(wanted), _latest(row))
        return found

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints the runs made (``metadata->>'run_id'``) and their writes."""
        ids = [str(r) for r in run_ids]
        if not ids:
            return
        with self._cursor() as cur, self._conn.transaction():
            cur.execute(
                "DELETE FROM checkpoint_writes w USING checkpoints c "
                "WHERE c.metadata->>'run_id' = ANY(%s) AND w.thread_id = c.thread_id "
                "AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id",
                (ids,),
            )
            cur.execute("DELETE FROM checkpoints WHERE metadata->>'run_id' = ANY(%s)", (ids,))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of one thread to another."""
        args = (str(target_thread_id), str(source_thread_id))
        with self._cursor() as cur, self._conn.transaction():
            cur.execute(
                "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, type, checkpoint, metadata) SELECT %s, checkpoint_ns, "
                "checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
                "FROM checkpoints WHERE thread_id = %s ON CONFLICT DO NOTHING",
                args,
            )
            cur.execute(
                "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, "
                "type, blob) SELECT %s, checkpoint_ns, channel, version, type, blob "
                "FROM checkpoint_blobs WHERE thread_id = %s ON CONFLICT DO NOTHING",
                args,
            )
            cur.execute(
                "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, "
                "task_id, task_path, idx, channel, type, blob) SELECT %s, checkpoint_ns, "
                "checkpoint_id, task_id, task_path, idx, channel, type, blob "
                "FROM checkpoint_writes WHERE thread_id = %s ON CONFLICT DO NOTHING",
                args,
            )

    def compact(self) -> None:
        """Delete the older checkpoints of the threads written since the last call
        (call it after a turn); each keeps its latest checkpoint, which holds it whole.

        Best effort: a thread another connection is changing right now, or one using a
        ``DeltaChannel`` (its latest checkpoint needs the older ones), is left whole;
        the next compaction after it is written again prunes it.
        """
        import psycopg

        written, self._written = self._written, set()
        if self.keep_history:
            return
        for thread_id in sorted(written):
            try:
                self.prune([thread_id], strategy="keep_latest")
            except (
                NotImplementedError,
                psycopg.errors.SerializationFailure,
                psycopg.errors.DeadlockDetected,
            ):
                continue


def postgres_checkpointer(url: str, *, keep_history: bool = False) -> ThreadedPostgresSaver:
    """A ready saver (tables created) on one new connection; close it with ``saver.conn.close()``.
    ``keep_history=True`` keeps every checkpoint (``compact()`` then prunes nothing).

    Raises ``InvalidSettings`` (the password hidden) when the server cannot be reached.
    """
    from psycopg.rows import dict_row

    conn = connect_postgres(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
    saver = ThreadedPostgresSaver(conn, keep_history=keep_history)
    try:
        saver.setup()
    except BaseException:
        conn.close()
        raise
    return saver


async def apostgres_checkpointer(url: str) -> AsyncPostgresSaver:
    """LangGraph's ``AsyncPostgresSaver``, ready; close it with ``await saver.conn.close()``."""
    import psycopg
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row

    try:
        conn: Any = await psycopg.AsyncConnection.connect(
            url, autocommit=True, prepare_threshold=0, row_factory=dict_row
        )
    except psycopg.Error as exc:
        raise InvalidSettings(cannot_connect(url, exc)) from exc
    saver = AsyncPostgresSaver(conn)
    try:
        await saver.setup()
    except BaseException:
        await conn.close()
        raise
    return saver
