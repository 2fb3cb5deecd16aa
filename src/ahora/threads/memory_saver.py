"""Conversations in memory, bounded: the saver ``Agent()`` uses without a store.

LangGraph's ``InMemorySaver`` keeps every thread it has seen for the life of the
process, and every checkpoint of each (each with its own copy of the message list, so
one thread of n turns holds O(n²) bytes: 300 short turns, 37 MB). An app that embeds
``Agent()`` and serves many users grows without end. ``BoundedMemorySaver`` is the
same saver with two bounds:

* it keeps only each thread's latest checkpoint and its pending writes (like the
  compact SQLite saver in ``ahora.threads``), so a thread costs about its text;
* it forgets the least recently used thread (read or written) once it holds more than
  ``max_threads``. A forgotten thread starts afresh if its id comes back; apps that
  need conversations to last pass a checkpointer (``ahora.threads``, PostgreSQL).

``get_state_history`` therefore shows only the latest state of a thread, unless
``keep_history=True`` (``settings.keep_history``, as for the stores on disk); a config
naming a pruned checkpoint raises ``StaleCheckpoint`` rather than silently starting
the conversation afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
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
from ahora.threads.guard import check_not_stale

__all__ = ["DEFAULT_MAX_THREADS", "BoundedMemorySaver"]

DEFAULT_MAX_THREADS = 1_000


class BoundedMemorySaver(InMemorySaver):
    """An ``InMemorySaver`` keeping the latest checkpoint of at most ``max_threads``
    threads (least recently used go first)."""

    def __init__(
        self, max_threads: int = DEFAULT_MAX_THREADS, *, keep_history: bool = False, **kwargs: Any
    ) -> None:
        if isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1:
            raise InvalidSettings(
                f"memory_threads must be a whole number of at least 1, not {max_threads!r}"
            )
        super().__init__(**kwargs)
        self.max_threads = max_threads
        self.keep_history = keep_history
        self._recent: OrderedDict[str, None] = OrderedDict()
        # Each thread's keys in ``blobs`` and ``writes``, so that pruning and forgetting
        # a thread touch only its own entries, not every thread's.
        self._blob_keys: dict[str, set[tuple[Any, ...]]] = {}
        self._write_keys: dict[str, set[tuple[Any, ...]]] = {}
        self._lock = threading.RLock()

    @property
    def thread_count(self) -> int:
        """How many threads are held now."""
        return len(self._recent)

    def _touch(self, thread_id: str) -> None:
        self._recent[thread_id] = None
        self._recent.move_to_end(thread_id)
        while len(self._recent) > self.max_threads:
            oldest, _ = self._recent.popitem(last=False)
            self._forget(oldest)

    def _forget(self, thread_id: str) -> None:
        self.storage.pop(thread_id, None)
        for key in self._blob_keys.pop(thread_id, ()):
            self.blobs.pop(key, None)
        for key in self._write_keys.pop(thread_id, ()):
            self.writes.pop(key, None)

    def _prune(self, thread_id: str, ns: str, latest: str, versions: ChannelVersions) -> None:
        """Drop the thread's older checkpoints in ``ns``, their writes, and the blobs the
        latest checkpoint does not refer to."""
        checkpoints = self.storage[thread_id][ns]
        for old in [cid for cid in checkpoints if cid < latest]:
            del checkpoints[old]
        blob_keys = self._blob_keys.get(thread_id, set())
        for key in [k for k in blob_keys if k[1] == ns and versions.get(k[2]) != k[3]]:
            blob_keys.discard(key)
            self.blobs.pop(key, None)
        write_keys = self._write_keys.get(thread_id, set())
        for key in [k for k in write_keys if k[1] == ns and k[2] < latest]:
            write_keys.discard(key)
            self.writes.pop(key, None)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        with self._lock:
            found = super().get_tuple(config)
            conf = config["configurable"]
            thread_id = str(conf["thread_id"])
            if found is not None:
                self._touch(thread_id)
            elif thread_id not in self._recent:
                # InMemorySaver's lookup made an empty entry (a defaultdict): an id that
                # was only read must not stay, unbounded and never forgotten.
                self.storage.pop(thread_id, None)
            if found is None and conf.get("checkpoint_id"):
                kept = self.storage.get(thread_id, {}).get(conf.get("checkpoint_ns", ""), {})
                check_not_stale(thread_id, str(conf["checkpoint_id"]), max(kept, default=None))
            return found

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        with self._lock:
            saved = super().put(config, checkpoint, metadata, new_versions)
            conf = saved["configurable"]
            thread_id, ns = str(conf["thread_id"]), str(conf["checkpoint_ns"])
            self._blob_keys.setdefault(thread_id, set()).update(
                (thread_id, ns, k, v) for k, v in new_versions.items()
            )
            # A checkpoint of DeltaChannel state needs its ancestors: keep them.
            if not self.keep_history and not (metadata or {}).get("counters_since_delta_snapshot"):
                self._prune(
                    thread_id, ns, str(conf["checkpoint_id"]), checkpoint["channel_versions"]
                )
            self._touch(thread_id)
            return saved

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        with self._lock:
            conf = config["configurable"]
            thread_id, ns = str(conf["thread_id"]), str(conf.get("checkpoint_ns", ""))
            checkpoint_id = str(conf["checkpoint_id"])
            # Writes may land after the next checkpoint (which already holds them).
            if any(cid > checkpoint_id for cid in self.storage.get(thread_id, {}).get(ns, {})):
                return
            super().put_writes(config, writes, task_id, task_path)
            self._write_keys.setdefault(thread_id, set()).add((thread_id, ns, checkpoint_id))

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self._recent.pop(thread_id, None)
            self._forget(thread_id)
