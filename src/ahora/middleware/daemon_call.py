"""Run a blocking call with a time limit, in a thread that never holds the process.

A synchronous model call or tool cannot be killed: past its limit it is abandoned and
runs on. A daemon thread, not a pool's: Python joins pool threads at exit, so an
abandoned call would keep ``ahora`` alive for its whole length. Shared by the per-tool
timeout and the run's deadline.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["call_within"]

_T = TypeVar("_T")


def call_within(seconds: float, call: Callable[[], _T], *, name: str = "ahora-call") -> _T:
    """``call()`` in a daemon thread, waited for at most ``seconds``.

    Raises ``TimeoutError`` when it is not done by then (its result is dropped), and
    whatever ``call`` raised otherwise. The context is copied so LangGraph's run
    config and streaming callbacks still reach the call.
    """
    ctx = contextvars.copy_context()
    box: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            box.append(ctx.run(call))
        except BaseException as exc:  # handed to the waiting thread
            errors.append(exc)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(max(0.0, seconds))
    if errors:
        raise errors[0]
    if not box:
        raise TimeoutError
    return box[0]
