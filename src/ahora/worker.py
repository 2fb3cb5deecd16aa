"""Parse hostile input in a worker process that can be killed: bounded time and memory.

Parsing a page or a file an attacker wrote can take minutes and gigabytes inside C
code (lxml, trafilatura's passes, pypdf) that no Python timeout can interrupt, and a
thread left running blocks the interpreter at exit. So :func:`run` sends the input to
a separate Python process, waits at most ``seconds``, and kills the process when the
time is up; the process also runs under an address-space limit (``RLIMIT_AS``), so a
memory bomb ends in ``MemoryError`` (or the process's death), never in swapping.
(On Windows, which has neither, the function runs in-process, unbounded.)

Workers are kept warm and reused: starting one costs a Python start plus the
parser's import (about 0.6 s for trafilatura on a quiet 2-core machine), paid once;
a call on a warm worker costs about a millisecond of pipe traffic plus the copy of
the input. Only a killed or crashed worker is replaced. Workers read requests on
stdin and exit when it closes, so they never outlive the program. A worker is an
isolated helper (:mod:`ahora.subprocesses`): nothing from the working folder is
imported and it gets no API keys, since it parses what an attacker wrote.

The protocol is deliberately not pickle: a JSON header line (function and keyword
arguments) then the raw input bytes go in; a JSON line comes back. A compromised
parser can lie in its answer but cannot run code in the parent.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from typing import IO, Any

from ahora.errors import WorkerCrashed, WorkerError, WorkerTimeout

__all__ = ["WorkerCrashed", "WorkerError", "WorkerTimeout", "run", "warm"]

#: Address space a worker may use on top of what it has after importing its parser.
DEFAULT_MEMORY = 300 * 1024 * 1024
_IDLE_MAX = 2


def run(
    function: str,
    payload: bytes,
    *,
    seconds: float,
    memory: int = DEFAULT_MEMORY,
    preload: str = "",
    **kwargs: Any,
) -> Any:
    """Call ``function`` (``"package.module:name"``) as ``function(payload, **kwargs)`` in
    a worker process and return its JSON answer.

    Raises ``WorkerTimeout`` after ``seconds`` (the worker is killed), ``WorkerCrashed``
    when the worker dies, and ``MemoryError`` when it ran out of its ``memory``
    allowance. An exception raised by ``function`` comes back as ``WorkerError`` with
    its type name and message. ``preload`` names a module to import when a worker
    starts, so that the first call does not pay for it.
    """
    if not hasattr(select, "poll") or sys.platform == "win32":
        # No fork-free pipes to select on and no rlimits: run in-process, unbounded.
        module, _, name = function.partition(":")
        return getattr(importlib.import_module(module), name)(payload, **kwargs)
    worker = _acquire(memory, preload)
    try:
        answer = worker.call(function, payload, kwargs, time.monotonic() + seconds)
    except BaseException:
        worker.kill()  # timed out, crashed or interrupted: never reused
        raise
    if answer.get("kind") == "MemoryError":
        worker.kill()  # after running out of memory it is not trusted again
    else:
        _release(worker)
    if "error" in answer:
        kind, message = str(answer.get("kind", "")), str(answer["error"])
        if kind == "MemoryError":
            raise MemoryError(message)
        raise WorkerError(kind, message)
    return answer.get("result")


def warm(*, memory: int = DEFAULT_MEMORY, preload: str = "") -> None:
    """Start a worker now (in the background) so that the next :func:`run` finds it ready."""
    with _lock:
        if any(w.memory == memory and w.preload == preload for w in _idle):
            return
    _release(_Worker(memory, preload))


class _Worker:
    def __init__(self, memory: int, preload: str) -> None:
        self.memory = memory
        self.preload = preload
        from ahora.subprocesses import helper, start

        env = {"AHORA_WORKER_MEMORY": str(memory), "AHORA_WORKER_PRELOAD": preload}
        self.proc = start(
            helper("ahora.worker:_serve", env=env),  # isolated: no folder code, no keys
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def call(
        self, function: str, payload: bytes, kwargs: dict[str, Any], deadline: float
    ) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        header = json.dumps({"function": function, "size": len(payload), "kwargs": kwargs})
        try:
            self.proc.stdin.write(header.encode() + b"\n" + payload)
            self.proc.stdin.flush()
        except OSError as exc:
            raise WorkerCrashed(f"the worker process is gone ({exc})") from exc
        line = _read_line(self.proc.stdout, deadline)
        try:
            answer = json.loads(line)
        except ValueError as exc:
            raise WorkerCrashed("the worker process died or answered nonsense") from exc
        if not isinstance(answer, dict):
            raise WorkerCrashed("the worker process answered nonsense")
        return answer

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


def _read_line(stream: IO[bytes], deadline: float) -> bytes:
    """One line from the worker, or ``WorkerTimeout`` at the deadline."""
    fd = stream.fileno()
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WorkerTimeout("the worker did not answer in time")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)  # EOF: the worker died
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


_lock = threading.Lock()
_idle: list[_Worker] = []


def _acquire(memory: int, preload: str) -> _Worker:
    with _lock:
        for i, worker in enumerate(_idle):
            if worker.memory == memory and worker.preload == preload:
                del _idle[i]
                if worker.alive():
                    return worker
                worker.kill()
                break
    return _Worker(memory, preload)


def _release(worker: _Worker) -> None:
    with _lock:
        if worker.alive() and len(_idle) < _IDLE_MAX:
            _idle.append(worker)
            return
    worker.kill()


@atexit.register
def _shutdown() -> None:
    with _lock:
        workers = list(_idle)
        _idle.clear()
    for worker in workers:
        worker.kill()


# --- inside the worker ---------------------------------------------------------------------


def _serve() -> None:
    """The worker's loop: limit memory, preload, then answer requests until stdin closes."""
    import resource

    preload = os.environ.get("AHORA_WORKER_PRELOAD", "")
    if preload:
        importlib.import_module(preload)
    allowance = int(os.environ.get("AHORA_WORKER_MEMORY", str(DEFAULT_MEMORY)))
    ceiling = _address_space() + allowance
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.readline()
        if not header:
            return
        request = json.loads(header)
        payload = stdin.read(int(request["size"]))
        try:
            module, _, name = str(request["function"]).partition(":")
            result = getattr(importlib.import_module(module), name)(payload, **request["kwargs"])
            answer = {"result": result}
        except MemoryError:
            answer = {"error": "out of memory", "kind": "MemoryError"}
        except Exception as exc:
            # C libraries report a failed allocation in their own words (libxml2:
            # "Memory allocation failed", or just "unknown error"): a failure after the
            # process came within 5% of its ceiling is taken for running out of memory.
            if _peak_address_space() > ceiling - allowance // 20:
                answer = {"error": "out of memory", "kind": "MemoryError"}
            else:
                answer = {"error": str(exc)[:500], "kind": type(exc).__name__}
        del payload
        stdout.write(json.dumps(answer).encode() + b"\n")
        stdout.flush()


def _peak_address_space() -> int:
    """This process's peak virtual size in bytes (Linux ``VmPeak``), 0 when unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _address_space() -> int:
    """This process's current virtual size in bytes (Linux), 0 when unknown."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
