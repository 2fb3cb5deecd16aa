"""One turn at a time per thread, across processes: the lock a turn holds while it runs.

A second turn on a thread that is answering fails at once with ``ThreadBusy`` (before
it calls the model), instead of both saving and one silently replacing the other.

* SQLite: a POSIX record lock on one byte of ``<threads file>-turns`` (the byte picked
  by the thread id's hash). The system drops it when the process dies, so a killed
  turn never leaves a thread locked. Record locks belong to the process, so a set of
  held ids guards the turns of one process against each other, and the file stays
  open for the life of the process (closing any descriptor of it would drop every
  lock the process holds on it).
* PostgreSQL: a session-level advisory lock keyed on the thread (``ahora.threads.postgres``),
  dropped by the server when the connection goes.

Both stores also check, as each checkpoint is written, that it continues the thread's
latest one (``ahora.threads.guard``), which catches writers that hold no turn lock.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ahora.errors import ThreadBusy

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the per-checkpoint check only
    fcntl = None  # type: ignore[assignment]

__all__ = ["busy", "hold_sqlite_thread", "lock_key"]

_mutex = threading.Lock()
_files: dict[Path, int] = {}  # lock file -> descriptor, open for the process's life
_held: set[tuple[Path, str]] = set()


def busy(thread_id: str) -> ThreadBusy:
    return ThreadBusy(
        f"thread {thread_id} is busy: another turn is answering on it right now; "
        "wait for it to finish and try again"
    )


def lock_key(thread_id: str) -> int:
    """A stable 31-bit number for the thread (a byte offset; an advisory lock key)."""
    return int.from_bytes(hashlib.blake2b(thread_id.encode(), digest_size=4).digest()) >> 1


@contextmanager
def hold_sqlite_thread(db: Path, thread_id: str) -> Iterator[None]:
    """Hold the turn lock of ``thread_id`` in the threads file ``db``; ``ThreadBusy`` if
    another turn (this process or another) holds it."""
    path = db.with_name(db.name + "-turns").absolute()
    key = (path, thread_id)
    offset = lock_key(thread_id)
    with _mutex:
        if key in _held:
            raise busy(thread_id)
        fd = _files.get(path)
        if fd is None and fcntl is not None:
            fd = _files[path] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if fd is not None:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
            except OSError:
                raise busy(thread_id) from None
        _held.add(key)
    try:
        yield
    finally:
        with _mutex:
            _held.discard(key)
            if fd is not None:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)
