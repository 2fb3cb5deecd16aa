"""Threads in PostgreSQL, for several machines or processes sharing conversations.

``pip install 'ahora[postgres]'`` and set ``AHORA_POSTGRES_URL`` (or ``postgres_url``
in the config file) to a libpq URL such as ``postgresql://user:pass@db:5432/ahora``;
``ahora.threads.open_checkpointer`` then picks :func:`postgres_checkpointer`. In
your own code::

    from ahora import Agent
    from ahora.postgres import postgres_checkpointer

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

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ahora.errors import InvalidSettings
from ahora.threads.pgconnect import cannot_connect, connect_postgres, redact

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


class ThreadedPostgresSaver(PostgresSaver):
    """``PostgresSaver`` whose async methods run the sync ones in a worker thread, and
    whose ``compact()`` keeps only the latest checkpoint of the threads it wrote."""

    def __init__(
        self,
        conn: Any,
        pipe: Pipeline | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(conn, pipe, serde)
        self._written: set[str] = set()  # threads to compact

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = super().put(config, checkpoint, metadata, new_versions)
        self._written.add(str(saved["configurable"]["thread_id"]))
        return saved

    def compact(self) -> None:
        """Delete the older checkpoints of the threads written since the last call
        (call it after a turn); each keeps its latest checkpoint, which holds it whole.

        Best effort: a thread another connection is changing right now, or one using a
        ``DeltaChannel`` (its latest checkpoint needs the older ones), is left whole;
        the next compaction after it is written again prunes it.
        """
        import psycopg

        written, self._written = self._written, set()
        for thread_id in sorted(written):
            try:
                self.prune([thread_id], strategy="keep_latest")
            except (
                NotImplementedError,
                psycopg.errors.SerializationFailure,
                psycopg.errors.DeadlockDetected,
            ):
                continue

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        def collect() -> list[CheckpointTuple]:
            return list(self.list(config, filter=filter, before=before, limit=limit))

        for item in await asyncio.to_thread(collect):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)


def postgres_checkpointer(url: str) -> ThreadedPostgresSaver:
    """A ready saver (tables created) on one new connection; close it with ``saver.conn.close()``.

    Raises ``InvalidSettings`` (the password hidden) when the server cannot be reached.
    """
    from psycopg.rows import dict_row

    conn = connect_postgres(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
    saver = ThreadedPostgresSaver(conn)
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
