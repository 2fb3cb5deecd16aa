"""Start-up figures of the ``ahora`` command.

    python benchmarks/bench_cli.py [RUNS]

Median wall time of RUNS subprocess runs (``time.perf_counter`` around each) of:
``python -c pass`` (the floor), ``ahora --help``, ``ahora tools`` (cache warm),
``ahora threads`` (20 saved threads). Goal: each under 0.2 s.
Then the time until ``ahora ask`` on a pseudo-terminal shows its first status line
("Thinking ..."), against a loopback model server. Goal: under 0.3 s.

Then the first request: from process start until the loopback model server
(``ahora.testing.openai_server``) receives the first chat-completions request, for
``ahora ask`` (piped) and, side by side, ``llm prompt`` on the same server when
``llm`` is installed (``LLM`` names its executable; default ``/tmp/llm-venv/bin/llm``,
kept out of ahora's environment; it reads the server from an
``extra-openai-models.yaml`` written here). Goal: within 1.5 s, and at most 1.5x
``llm``. Next to it, the floor that is not ahora's: a bare ``python -c`` importing
the LangChain, LangGraph and OpenAI modules the ask path needs, and its parts. The
commands run in interleaved rounds, so a busy machine slows all of them alike.

Last, the top cumulative imports (``python -X importtime``) of each command.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


LLM = os.environ.get("LLM", "/tmp/llm-venv/bin/llm")
FLOORS = {
    "import openai": "import openai",
    "import langchain_openai": "import langchain_openai",
    "import langchain.agents": "import langchain.agents",
    "import floor": "import langchain.agents, langchain_openai, langgraph.checkpoint.sqlite",
}
"""What the ask path imports that is not ahora's (``import floor``), and its parts."""


def _run(argv: list[str], env: dict[str, str]) -> float:
    """Run ``argv`` to the end; return the CPU seconds it used (user + system).

    CPU time barely moves with the load of a shared machine, while wall time can
    triple: it is the steadier way to compare two commands here.
    """
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


class _FirstRequest:
    """A loopback model server that notes when each request arrives."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.server = OpenAIServer(rule=self._rule)

    def _rule(self, body: dict[str, Any]) -> str:
        self.arrivals.append(time.perf_counter())
        return "Hello."

    def seconds(self, argv: list[str], env: dict[str, str]) -> tuple[float, float]:
        """Wall seconds from starting ``argv`` to its first request; CPU seconds of
        the whole run (or of the whole command, when it sends none)."""
        self.arrivals.clear()
        started = time.perf_counter()
        cpu = _run(argv, env)
        wall = (self.arrivals[0] if self.arrivals else time.perf_counter()) - started
        return wall, cpu


def first_request_figures(home: str, runs: int) -> None:
    """ahora's first request next to llm's and the import floor, in interleaved rounds
    (a busy machine slows all of them alike)."""
    probe = _FirstRequest()
    times: dict[str, list[tuple[float, float]]] = {}
    with probe.server as srv:
        env = _env(
            home,
            AHORA_MODEL="openai:test-model",
            OPENAI_API_KEY="test",
            OPENAI_BASE_URL=srv.base_url,
            LLM_USER_PATH=tempfile.mkdtemp(),
        )
        (Path(env["LLM_USER_PATH"]) / "extra-openai-models.yaml").write_text(
            f"- model_id: fake\n  model_name: test-model\n  api_base: {json.dumps(srv.base_url)}\n"
        )
        commands = {"ask: 1st request": [PY, "-m", "ahora", "ask", "hello there"]}
        if os.path.exists(LLM):
            commands["llm: 1st request"] = [LLM, "prompt", "-m", "fake", "--no-log", "hi there"]
        commands.update({label: [PY, "-c", code] for label, code in FLOORS.items()})
        for _ in range(runs):
            for label, argv in commands.items():
                times.setdefault(label, []).append(probe.seconds(argv, env))
    wall = {label: statistics.median(t for t, _ in values) for label, values in times.items()}
    cpu = {label: statistics.median(c for _, c in values) for label, values in times.items()}
    print(f"  {'':<24} {'wall':>7} {'cpu, whole run':>15}")
    for label in times:
        print(f"  {label:<24} {wall[label] * 1000:5.0f} ms {cpu[label] * 1000:12.0f} ms")
    over = wall["ask: 1st request"] - wall["import floor"]
    print(f"  ahora over the import floor: {over * 1000:.0f} ms wall")
    if "llm: 1st request" in wall:
        ratio = wall["ask: 1st request"] / wall["llm: 1st request"]
        floor = wall["import floor"] / wall["llm: 1st request"]
        print(f"  ahora / llm = {ratio:.2f} (goal <= 1.5; the import floor alone: {floor:.2f})")
    else:
        print(f"  llm not found at {LLM} (set LLM=...): no comparison")
    print("  goal: the first request within 1500 ms of start")


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
    first_request_figures(home, runs)
    print("top imports (cumulative):")
    for label, argv in list(commands.items())[1:]:
        print(f"  {label}: " + ", ".join(_importtime(argv[1:], env)))


if __name__ == "__main__":
    main()
