"""``call_within``: a blocking call with a time limit, in a thread that never holds
the process (shared by the per-tool timeout and the run's deadline)."""

from __future__ import annotations

import threading
import time

import pytest

from ahora.middleware.daemon_call import call_within


def test_the_result_comes_back() -> None:
    assert call_within(5, lambda: 6 * 7) == 42


def test_the_call_s_own_error_comes_back_as_it_was() -> None:
    def fail() -> int:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        call_within(5, fail)


def test_a_slow_call_times_out_on_time_in_a_daemon_thread() -> None:
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        call_within(0.2, lambda: release.wait(30), name="ahora-test-slow")
    assert time.monotonic() - started < 2
    [worker] = [t for t in threading.enumerate() if t.name == "ahora-test-slow"]
    assert worker.daemon  # abandoned, and never joined at exit
    release.set()
