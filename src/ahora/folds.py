"""A fold over a thread's messages, kept per thread so the next step resumes it.

Middleware that look back over the conversation before every model or tool call (the
budget's counts, the loop guard, the check for unanswered calls) would walk the whole
thread each step: O(messages) a step, O(n^2) a run. Each step adds a message or two,
so ``ThreadFolds.fold`` keeps the fold's state after the messages it has seen and, on
the next call with the same thread, adds only the new ones.

Whether the thread is the same is checked by identity, at C speed: same first message,
and the messages folded before are the same objects at the same places. Messages in a
graph's state are replaced (by id), never changed in place, so identity is enough; a
replaced, removed or reordered message makes it fold from the start. The states kept
are bounded (the threads folded most recently) and hold the folded messages, which a
running thread holds anyway. An entry is replaced whole, never changed, so threads and
event loops may share one ``ThreadFolds``.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, Protocol, Self, TypeVar

__all__ = ["Fold", "ThreadFolds"]


class Fold(Protocol):
    """A state over messages seen so far."""

    def add(self, messages: Sequence[object]) -> bool:
        """Take in more messages; False when the state cannot go on (not kept then)."""
        ...

    def copy(self) -> Self:
        """An independent copy (the kept state is never changed)."""
        ...


_F = TypeVar("_F", bound=Fold)


class _Kept(Generic[_F]):
    __slots__ = ("seen", "state")

    def __init__(self, seen: list[object], state: _F) -> None:
        self.seen, self.state = seen, state


class ThreadFolds(Generic[_F]):
    """Folds of recent threads, each resumed on the thread's next call."""

    def __init__(self, new: Callable[[], _F], *, kept: int = 32) -> None:
        self._new = new
        self._kept = kept
        self._entries: dict[tuple[int, Hashable], _Kept[_F]] = {}
        self._lock = threading.Lock()

    def fold(
        self,
        messages: Sequence[object],
        tag: Hashable = None,
        new: Callable[[], _F] | None = None,
    ) -> _F | None:
        """The state after all of ``messages`` (None when it could not go on), not to be
        changed by the caller. ``tag`` tells apart folds of one thread that are made
        differently (with other prices, say), and ``new`` makes a fresh state for them
        (the ``ThreadFolds``' own by default)."""
        new = new or self._new
        if not messages:
            empty = new()
            return empty if empty.add(messages) else None
        key = (id(messages[0]), tag)
        known = self._entries.get(key)
        start = 0
        if (
            known is not None
            and known.seen[0] is messages[0]
            and len(messages) >= len(known.seen)
            and all(map(operator.is_, messages, known.seen))
        ):
            if len(messages) == len(known.seen):
                return known.state
            start = len(known.seen)
            state = known.state.copy()
        else:
            state = new()
        if not state.add(messages[start:] if start else messages):
            return None
        kept = _Kept(list(messages), state)
        with self._lock:
            self._entries.pop(key, None)
            if len(self._entries) >= self._kept:
                del self._entries[next(iter(self._entries))]  # the least recently folded
            self._entries[key] = kept
        return state
