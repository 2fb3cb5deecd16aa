"""The async half of ahora's checkpointers: each ``a*`` method runs its sync twin in a
worker thread.

Both stores (SQLite and PostgreSQL) do their work in sync methods that hold their own
lock; running those in a thread measured faster than a second, async driver (12.2 vs
26.6 ms a turn for ``aiosqlite``), and keeps one code path per store. Mixed in before
the saver class, so these replace ``BaseCheckpointSaver``'s ``NotImplementedError``
stubs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import (
        ChannelVersions,
        Checkpoint,
        CheckpointMetadata,
        CheckpointTuple,
    )

__all__ = ["SyncBackedAsync"]

_T = TypeVar("_T")


async def _in_thread(fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
    import asyncio  # here, not above: the CLI imports the stores on every start

    return await asyncio.to_thread(fn, *args, **kwargs)


class _SyncSaver(Protocol):
    """The sync methods the async ones run."""

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None: ...

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]: ...

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig: ...

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None: ...

    def delete_thread(self, thread_id: str) -> None: ...

    def delete_for_runs(self, run_ids: Sequence[str]) -> None: ...

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None: ...

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None: ...


class SyncBackedAsync:
    """``aget_tuple``, ``alist``, ``aput``, ... as the sync methods in a worker thread."""

    async def aget_tuple(self: _SyncSaver, config: RunnableConfig) -> CheckpointTuple | None:
        return await _in_thread(self.get_tuple, config)

    async def alist(
        self: _SyncSaver,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        def collect() -> list[CheckpointTuple]:
            return list(self.list(config, filter=filter, before=before, limit=limit))

        for item in await _in_thread(collect):
            yield item

    async def aput(
        self: _SyncSaver,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await _in_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self: _SyncSaver,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await _in_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self: _SyncSaver, thread_id: str) -> None:
        await _in_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self: _SyncSaver, run_ids: Sequence[str]) -> None:
        await _in_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self: _SyncSaver, source_thread_id: str, target_thread_id: str) -> None:
        await _in_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(
        self: _SyncSaver, thread_ids: Sequence[str], *, strategy: str = "keep_latest"
    ) -> None:
        await _in_thread(self.prune, thread_ids, strategy=strategy)
