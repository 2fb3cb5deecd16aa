"""Start-up figures of the ``ahora`` command.

    python benchmarks/bench_cli.py [RUNS]

Median wall time of RUNS subprocess runs (``time.perf_counter`` around each) of:
``python -c pass`` (the floor), ``ahora --help``, ``ahora tools`` (cache warm),
``ahora threads`` (20 saved threads). Goal: each under 0.2 s.
Then the time until ``ahora ask`` on a pseudo-terminal shows its first status line
("Thinking ..."), against a loopback model server. Goal: under 0.3 s.
Last, the top cumulative imports (``python -X importtime``) of each command.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import pexpect

from ahora.testing.openai_server import OpenAIServer
from ahora.threads import ThreadIndex

PY = sys.executable


def _env(home: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AHORA_", "OPENAI_"))}
    env.update(AHORA_HOME=home, NO_COLOR="1", **extra)
    return env


def _median(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _first_status(env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        child = pexpect.spawn(
            PY, ["-m", "ahora", "ask", "hello there"], env=env, encoding="utf-8", timeout=60
        )
        child.expect("Thinking")
        times.append(time.perf_counter() - started)
        child.expect(pexpect.EOF)
    return statistics.median(times)


def _importtime(argv: list[str], env: dict[str, str], top: int = 6) -> list[str]:
    done = subprocess.run(
        [PY, "-X", "importtime", *argv], env=env, capture_output=True, text=True, check=False
    )
    rows = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and len(m.group(3)) <= 3:  # top-level and first-level imports
            rows.append((int(m.group(2)), m.group(4)))
    rows.sort(reverse=True)
    return [f"{name} {us / 1000:.0f} ms" for us, name in rows[:top]]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    home = tempfile.mkdtemp()
    env = _env(home)
    with ThreadIndex.for_settings(
        __import__("ahora.settings").settings.Settings.load(env)
    ) as index:
        for i in range(20):
            index.finish_turn(f"{i:032x}", question=f"Question {i}?", answer="An answer.")
    subprocess.run([PY, "-m", "ahora", "tools"], env=env, stdout=subprocess.DEVNULL, check=False)
    commands = {
        "python -c pass": [PY, "-c", "pass"],
        "ahora --help": [PY, "-m", "ahora", "--help"],
        "ahora tools": [PY, "-m", "ahora", "tools"],
        "ahora threads": [PY, "-m", "ahora", "threads"],
    }
    print(f"median of {runs} runs (load average {os.getloadavg()[0]:.1f})")
    for label, argv in commands.items():
        print(f"  {label:<16} {_median(argv, env, runs) * 1000:6.0f} ms")
    with OpenAIServer(fallback="Hello.") as srv:
        ask_env = _env(
            home,
            AHORA_MODEL="openai:test-model",
            OPENAI_API_KEY="test",
            OPENAI_BASE_URL=srv.base_url,
        )
        ask_env.pop("NO_COLOR")
        print(f"  {'ask: 1st status':<16} {_first_status(ask_env, runs) * 1000:6.0f} ms")
    print("top imports (cumulative):")
    for label, argv in list(commands.items())[1:]:
        print(f"  {label}: " + ", ".join(_importtime(argv[1:], env)))


if __name__ == "__main__":
    main()
