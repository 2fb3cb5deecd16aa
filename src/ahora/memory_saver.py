"""Conversations in memory, at most so many: the saver ``Agent()`` uses without a store.

LangGraph's ``InMemorySaver`` keeps every thread it has seen for the life of the
process, so an app that embeds ``Agent()`` and serves many users grows without end.
``BoundedMemorySaver`` is the same saver that forgets the least recently used thread
(read or written) once it holds more than ``max_threads``. A forgotten thread starts
afresh if its id comes back; apps that need conversations to last pass a
checkpointer (``ahora.threads``, PostgreSQL) instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.memory import InMemorySaver

from ahora.errors import InvalidSettings

__all__ = ["DEFAULT_MAX_THREADS", "BoundedMemorySaver"]

DEFAULT_MAX_THREADS = 1_000


class BoundedMemorySaver(InMemorySaver):
    """An ``InMemorySaver`` that keeps at most ``max_threads`` threads (LRU)."""

    def __init__(self, max_threads: int = DEFAULT_MAX_THREADS, **kwargs: Any) -> None:
        if isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1:
            raise InvalidSettings(
                f"memory_threads must be a whole number of at least 1, not {max_threads!r}"
            )
        super().__init__(**kwargs)
        self.max_threads = max_threads
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def _touch(self, config: RunnableConfig) -> None:
        thread_id = str(config.get("configurable", {}).get("thread_id", ""))
        with self._lock:
            self._recent[thread_id] = None
            self._recent.move_to_end(thread_id)
            while len(self._recent) > self.max_threads:
                oldest, _ = self._recent.popitem(last=False)
                super().delete_thread(oldest)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        found = super().get_tuple(config)
        if found is not None:
            self._touch(config)
        return found

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = super().put(config, checkpoint, metadata, new_versions)
        self._touch(config)
        return saved

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self._recent.pop(thread_id, None)
        super().delete_thread(thread_id)

    @property
    def thread_count(self) -> int:
        """How many threads are held now."""
        return len(self._recent)
