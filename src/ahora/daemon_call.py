"""Run a blocking call with a time limit, in a thread that never holds the process.

A synchronous model call or tool cannot be killed: past its limit it is abandoned and
runs on. So the call runs in a daemon thread, not a pool's: Python joins pool threads
at exit, so an abandoned call would keep ``ahora`` alive for its whole length. Shared
by the per-tool timeout and the run's deadline.

Starting a thread per call cost about 0.15 ms a call and was the largest part of the
loop's per-step overhead, so the daemon threads are kept: a finished worker waits for
the next call (at most ``IDLE_WORKERS`` wait; more exit), and a call finds a waiting
worker or starts a new one. An abandoned call keeps its worker busy until it returns,
so it never delays another call. A call is signalled done by releasing a bare lock
(C all the way), not a ``threading.Event`` (a condition and a lock in Python): about a
quarter less per call.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["IDLE_WORKERS", "call_within"]

_T = TypeVar("_T")

IDLE_WORKERS = 8
"""Workers kept waiting for calls; a busier moment starts more, which exit after."""


class _Job(Generic[_T]):
    __slots__ = ("call", "context", "done", "error", "name", "result")

    def __init__(self, call: Callable[[], _T], name: str) -> None:
        self.call = call
        self.name = name
        self.context = contextvars.copy_context()
        self.done = threading.Lock()  # held until the call is done
        self.done.acquire()
        self.result: list[_T] = []
        self.error: list[BaseException] = []

    def run(self) -> None:
        # The worker takes the call's name, so a thread dump says what is stuck.
        thread = threading.current_thread()
        if thread.name != self.name:
            thread.name = self.name
        try:
            self.result.append(self.context.run(self.call))
        except BaseException as exc:  # handed to the waiting thread
            self.error.append(exc)
        finally:
            self.done.release()


_jobs: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
_lock = threading.Lock()
_idle = 0  # workers blocked on _jobs with no job reserved for them


def _work(first: _Job[Any]) -> None:
    global _idle
    first.run()
    while True:
        with _lock:
            if _idle >= IDLE_WORKERS:
                return
            _idle += 1
        _jobs.get().run()


def call_within(seconds: float, call: Callable[[], _T], *, name: str = "ahora-call") -> _T:
    """``call()`` in a daemon thread, waited for at most ``seconds``.

    Raises ``TimeoutError`` when it is not done by then (its result is dropped), and
    whatever ``call`` raised otherwise. The context is copied so LangGraph's run
    config and streaming callbacks still reach the call.
    """
    global _idle
    job = _Job(call, name)
    with _lock:
        waiting = _idle > 0
        if waiting:
            _idle -= 1  # that worker is this job's
    if waiting:
        _jobs.put(job)
    else:
        threading.Thread(target=_work, args=(job,), name=name, daemon=True).start()
    job.done.acquire(timeout=min(max(0.0, seconds), threading.TIMEOUT_MAX))
    if job.error:
        raise job.error[0]
    if not job.result:
        raise TimeoutError
    return job.result[0]
