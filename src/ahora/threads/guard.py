"""The two checks that keep a thread whole, shared by the SQLite and PostgreSQL stores.

* One writer per thread: a checkpoint must continue from the thread's latest one. A
  save whose parent is older means another turn saved the thread meanwhile; writing
  it would drop that turn (only the latest checkpoint is kept), so it is refused
  with ``ThreadBusy``. The store checks and writes under a per-thread lock (SQLite:
  ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock keyed on the thread).
* No silent fresh start: a config naming a checkpoint LangGraph issued (a time-ordered
  uuid6) that is older than the kept one was pruned; reading it raises
  ``StaleCheckpoint`` instead of returning nothing (which LangGraph would take for an
  empty conversation).
"""

from __future__ import annotations

import uuid

from ahora.errors import StaleCheckpoint, ThreadBusy

__all__ = ["check_not_stale", "check_parent"]


def check_parent(thread_id: str, parent: str | None, latest: str | None) -> None:
    """Raise ``ThreadBusy`` unless a checkpoint with ``parent`` continues the thread."""
    if parent and latest and latest != parent:
        raise ThreadBusy(
            f"thread {thread_id} is busy: another turn saved it while this one ran "
            f"(this turn started from checkpoint {parent}, the thread is now at {latest}); "
            "nothing of the other turn was lost; try again"
        )


def check_not_stale(thread_id: str, wanted: str, latest: str | None) -> None:
    """Raise ``StaleCheckpoint`` when ``wanted`` (not found) is older than ``latest``."""
    try:
        issued = uuid.UUID(wanted).version == 6  # LangGraph's ids sort by time
    except ValueError:
        return
    if issued and latest and latest > wanted:
        raise StaleCheckpoint(
            f"thread {thread_id} no longer has checkpoint {wanted}: a newer one "
            f"({latest}) replaced it, and only the latest is kept. Continue the thread "
            "without a checkpoint_id (or keep history: keep_history=True)."
        )
