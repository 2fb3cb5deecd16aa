"""``call_within``: a blocking call with a time limit, in a thread that never holds
the process (shared by the per-tool timeout and the run's deadline)."""

from __future__ import annotations

import threading
import time

import pytest

from ahora.daemon_call import call_within


def test_the_result_comes_back() -> None:
    assert call_within(5, lambda: 6 * 7) == 42


def test_the_call_s_own_error_comes_back_as_it_was() -> None:
    def fail() -> int:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        call_within(5, fail)


def test_a_slow_call_times_out_on_time_in_a_daemon_thread() -> None:
    release = threading.Event()
    ran_in: list[threading.Thread] = []

    def slow() -> bool:
        ran_in.append(threading.current_thread())
        return release.wait(30)

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        call_within(0.2, slow, name="ahora-test-slow")
    assert time.monotonic() - started < 2
    [worker] = ran_in
    assert worker.daemon and worker is not threading.current_thread()  # never joined at exit
    # The abandoned call keeps its worker; the next call does not wait for it.
    began = time.monotonic()
    assert call_within(5, lambda: threading.current_thread()) is not worker
    assert time.monotonic() - began < 1
    release.set()


def test_workers_are_reused_and_the_idle_ones_are_bounded() -> None:
    from ahora import daemon_call

    seen = {call_within(5, threading.current_thread) for _ in range(50)}
    # Waiting workers take call after call: not a thread per call.
    assert len(seen) <= daemon_call.IDLE_WORKERS + 1
    barrier = threading.Barrier(20, timeout=10)
    callers = [threading.Thread(target=lambda: call_within(10, barrier.wait)) for _ in range(20)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    time.sleep(0.2)
    assert daemon_call._idle <= daemon_call.IDLE_WORKERS  # the extra workers left
