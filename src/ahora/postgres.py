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
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ahora.errors import InvalidSettings

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

__all__ = ["ThreadedPostgresSaver", "apostgres_checkpointer", "postgres_checkpointer"]


class ThreadedPostgresSaver(PostgresSaver):
    """``PostgresSaver`` whose async methods run the sync ones in a worker thread."""

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
    import psycopg
    from psycopg.rows import dict_row

    try:
        conn: Any = psycopg.Connection.connect(
            url, autocommit=True, prepare_threshold=0, row_factory=dict_row
        )
    except psycopg.Error as exc:
        raise InvalidSettings(_cannot_connect(url, exc)) from exc
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
        raise InvalidSettings(_cannot_connect(url, exc)) from exc
    saver = AsyncPostgresSaver(conn)
    try:
        await saver.setup()
    except BaseException:
        await conn.close()
        raise
    return saver


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
