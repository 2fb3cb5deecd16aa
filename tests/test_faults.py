"""Fault injection: every fault ends with an answer or one clear error, never a
traceback, and never a lost turn.

``SCENARIOS`` is shared with ``benchmarks/reliability.py``, which runs the same cases
and prints the figures. Each scenario runs in a fresh data directory (``home``), sets
its own environment (``_env``) and returns an ``Outcome``; its ``checks`` say what
must be true beyond "answered" (e.g. the model was told the tool timed out).

Faults: the model sends malformed tool-call JSON, calls a tool that does not exist,
replies with nothing (twice) or repeats itself; the provider answers 500 then 200, or
429 with Retry-After, or rejects the key; a tool hangs (sync and async) or returns
10 MB; the network is down; the data directory is not writable; the HTTP cache or the
threads database is locked by another process; the process is killed mid-turn and
the thread is continued by a new process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Outcome:
    """How one run ended."""

    answered: bool = False
    """The run ended with a non-empty answer."""
    error: str | None = None
    """``Type: message`` of the one error the run ended with, if any."""
    crashed: bool = False
    """An exception escaped that ahora does not mean to raise (or a traceback printed)."""
    turn_kept: bool | None = None
    """The question is still in the thread afterwards (None: no thread to check)."""
    checks: dict[str, bool] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str
    expect: Literal["answer", "error"]
    run: Callable[[Path], Outcome]

    def survived(self, outcome: Outcome) -> bool:
        ended_as_expected = outcome.answered if self.expect == "answer" else bool(outcome.error)
        return (
            ended_as_expected
            and not outcome.crashed
            and outcome.turn_kept is not False
            and all(outcome.checks.values())
        )


# --- helpers ---------------------------------------------------------------------------


@contextlib.contextmanager
def _env(home: Path, **values: str) -> Iterator[None]:
    """Set AHORA_HOME and ``values`` (AHORA_X=...) for the scenario, then restore."""
    from ahora import http

    names = {"AHORA_HOME": str(home), **values}
    old = {k: os.environ.get(k) for k in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        http._sessions.clear()


def _ask(agent: Any, question: str, *, thread: str | None = None) -> Outcome:
    """Run one turn and classify how it ended."""
    from ahora.errors import AhoraError

    thread = thread or f"fault-{time.monotonic_ns()}"
    out = Outcome()
    try:
        answer = agent.ask(question, thread=thread)
        out.answered = bool(answer.text.strip())
        out.text = answer.text
    except AhoraError as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        out.crashed = True
        out.error = f"{type(exc).__name__}: {exc}"
    state = agent.graph.get_state({"configurable": {"thread_id": thread}})
    out.turn_kept = any(
        getattr(m, "type", "") == "human" and m.content == question
        for m in state.values.get("messages", [])
    )
    return out


def _tool_texts(messages: list[Any]) -> list[str]:
    from langchain_core.messages import ToolMessage

    return [str(m.content) for m in messages if isinstance(m, ToolMessage)]


def _scripted(*replies: Any) -> Any:
    from ahora.testing import ScriptedChatModel

    return ScriptedChatModel(replies=list(replies))


def _openai(srv: Any) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="test-model", api_key="sk-test", base_url=srv.base_url, max_retries=0)


def echo(text: str) -> str:
    """Repeat the text back."""
    return f"echo: {text}"


# --- the model misbehaves ---------------------------------------------------------------


def malformed_tool_json(home: Path) -> Outcome:
    from ahora import Agent
    from ahora.testing.openai_server import OpenAIServer

    script = [
        {"tool_calls": [{"name": "echo", "arguments": '{"text": "unterminated'}]},
        {"tool_calls": [{"name": "echo", "arguments": {"text": "fixed"}}]},
        "Answer after fixing the call.",
    ]
    with _env(home), OpenAIServer(script=script) as srv:
        out = _ask(Agent(_openai(srv), [echo]), "echo something")
        told = [m for m in srv.requests[1]["messages"] if m["role"] == "tool"]
    out.checks["model told the JSON was invalid"] = (
        bool(told) and "not valid JSON" in told[0]["content"]
    )
    return out


def unknown_tool(home: Path) -> Outcome:
    from ahora import Agent
    from ahora.testing import tool_call

    model = _scripted(tool_call("teleport", {"to": "Mars"}), "I cannot teleport.")
    with _env(home):
        out = _ask(Agent(model, [echo]), "go to Mars")
    seen = _tool_texts(model.requests[-1])
    out.checks["model told the tool does not exist"] = bool(seen) and "teleport" in seen[0]
    return out


def empty_reply_twice(home: Path) -> Outcome:
    from ahora import Agent
    from ahora.middleware.empty_reply import EMPTY_FALLBACK

    with _env(home):
        out = _ask(Agent(_scripted("", ""), [echo]), "say something")
    out.checks["explained, not empty"] = out.text == EMPTY_FALLBACK
    return out


def repeats_itself(home: Path) -> Outcome:
    from ahora import Agent
    from ahora.testing import tool_call

    runs: list[str] = []

    def lookup(query: str) -> str:
        """Look a query up."""
        runs.append(query)
        return f"facts about {query}"

    model = _scripted(*[lambda m, t: tool_call("lookup", {"query": "x"}) if t else "Done."] * 20)
    with _env(home):
        out = _ask(Agent(model, [lookup], max_steps=20), "loop")
    out.checks["tool ran once"] = runs == ["x"]
    out.checks["landed within 3 calls"] = model.calls == 3
    return out


# --- the provider fails --------------------------------------------------------------------


def _provider(home: Path, script: list[Any], retries: str = "2") -> tuple[Outcome, int, float]:
    from ahora import Agent
    from ahora.testing.openai_server import OpenAIServer

    with (
        OpenAIServer(script=script) as srv,
        _env(
            home,
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=srv.base_url,
            AHORA_MODEL_MAX_RETRIES=retries,
        ),
    ):
        started = time.monotonic()
        out = _ask(Agent("openai:test-model", []), "hello")
        return out, srv.calls, time.monotonic() - started


def provider_500_then_200(home: Path) -> Outcome:
    out, calls, _ = _provider(home, [{"status": 500}, "Recovered."])
    out.checks["retried once"] = calls == 2
    return out


def provider_429_retry_after(home: Path) -> Outcome:
    out, calls, seconds = _provider(home, [{"status": 429, "retry_after": 1}, "After waiting."])
    out.checks["retried once"] = calls == 2
    out.checks["waited as told"] = seconds >= 0.9
    return out


def provider_rejects_key(home: Path) -> Outcome:
    out, calls, _ = _provider(home, [{"status": 401}] * 3)
    out.checks["not retried"] = calls == 1
    out.checks["says to check the key"] = "ModelAuthenticationError" in (out.error or "")
    return out


# --- tools misbehave -----------------------------------------------------------------------


def tool_hangs(home: Path) -> Outcome:
    from ahora import Agent
    from ahora.testing import tool_call

    release = threading.Event()

    def stuck(query: str) -> str:
        """Never answers (until released)."""
        release.wait(30)
        return "too late"

    model = _scripted(tool_call("stuck", {"query": "x"}), "Answered without it.")
    try:
        with _env(home, AHORA_TOOL_TIMEOUT="0.5"):
            out = _ask(Agent(model, [stuck]), "go")
    finally:
        release.set()
    seen = _tool_texts(model.requests[-1])
    out.checks["model told it timed out"] = bool(seen) and "timed out after 0.5 s" in seen[0]
    return out


def async_tool_hangs(home: Path) -> Outcome:
    from ahora import Agent
    from ahora.testing import tool_call

    async def stuck(query: str) -> str:
        """Never answers."""
        await asyncio.sleep(30)
        return "too late"

    model = _scripted(tool_call("stuck", {"query": "x"}), "Answered without it.")
    with _env(home, AHORA_TOOL_TIMEOUT="0.5"):
        agent = Agent(model, [stuck])
        out = Outcome()
        answer = asyncio.run(agent.aask("go", thread="t"))
        out.answered, out.text = bool(answer.text), answer.text
        out.turn_kept = any(getattr(m, "content", None) == "go" for m in answer.messages)
    seen = _tool_texts(model.requests[-1])
    out.checks["model told it timed out"] = bool(seen) and "timed out after 0.5 s" in seen[0]
    return out


def tool_returns_10_mb(home: Path) -> Outcome:
    from ahora import Agent
    from ahora.testing import tool_call

    def flood(query: str) -> str:
        """Returns far too much."""
        return "x" * 10_000_000

    model = _scripted(tool_call("flood", {"query": "x"}), "Answered from the head and tail.")
    with _env(home, AHORA_TOOL_OUTPUT_CHARS="12000"):
        out = _ask(Agent(model, [flood]), "go")
    seen = _tool_texts(model.requests[-1])
    out.checks["model saw at most the cap"] = bool(seen) and len(seen[0]) < 12_500
    out.checks["told how much was cut"] = bool(seen) and "characters cut" in seen[0]
    return out


def _weather_run(home: Path, base: str, **env: str) -> tuple[Outcome, str]:
    from ahora import Agent
    from ahora.testing import tool_call

    model = _scripted(tool_call("weather", {"location": "Tokyo"}), "Here is what I know.")
    with _env(home, AHORA_GEOCODING_URL=base, AHORA_OPEN_METEO_URL=base, **env):
        out = _ask(Agent(model, ["weather"]), "weather in Tokyo?")
    seen = _tool_texts(model.requests[-1])
    return out, seen[0] if seen else ""


def network_down(home: Path) -> Outcome:
    from tests.fixtures.open_meteo import closed_url

    out, seen = _weather_run(home, closed_url(), AHORA_HTTP_RETRIES="0")
    out.checks["model told it could not connect"] = "could not connect" in seen
    return out


# --- storage -------------------------------------------------------------------------------


def _unwritable(home: Path) -> tuple[Path, dict[str, str]]:
    """A data directory nothing can be written to.

    Unprivileged: a read-only directory. As root (who ignores permissions): a path
    under a regular file, which no one can create, with the config file elsewhere.
    """
    home.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        data = home / "ro"
        data.mkdir()
        data.chmod(0o555)
        return data, {}
    blocker = home / "not-a-dir"
    blocker.write_text("")
    return blocker / "ahora", {"AHORA_CONFIG": str(home / "config.toml")}


def data_dir_read_only_tools(home: Path) -> Outcome:
    from tests.fixtures.open_meteo import OpenMeteoServer

    data, env = _unwritable(home)
    with OpenMeteoServer() as srv:
        out, seen = _weather_run(data, srv.url, **env)
    out.checks["weather still answered (uncached)"] = seen.startswith(
        '<tool_output tool="weather">\nWeather for Tokyo'
    )
    return out


def data_dir_read_only_threads(home: Path) -> Outcome:
    """The CLI, which saves every turn: one "Error:" line, no traceback."""
    from ahora.testing.openai_server import OpenAIServer

    data, env = _unwritable(home)
    with OpenAIServer(script=["Hello."]) as srv:
        proc = _cli(
            ["ask", "hello"],
            {
                **env,
                "AHORA_HOME": str(data),
                "OPENAI_API_KEY": "sk-test",
                "OPENAI_BASE_URL": srv.base_url,
                "AHORA_MODEL": "openai:test-model",
            },
        )
    return _cli_outcome(proc)


def http_cache_locked(home: Path) -> Outcome:
    """Another process holds the HTTP cache's write lock: the tool times out, the run lands."""
    from tests.fixtures.open_meteo import OpenMeteoServer

    cache = home / "cache"
    cache.mkdir(parents=True)
    lock = sqlite3.connect(cache / "http.sqlite", isolation_level=None, check_same_thread=False)
    lock.execute("BEGIN EXCLUSIVE")
    with OpenMeteoServer() as srv:
        try:
            out, seen = _weather_run(home, srv.url, AHORA_TOOL_TIMEOUT="1")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        # The abandoned tool thread is still waiting for the lock; let it finish its
        # work before the directory goes (it would wait forever on a deleted file).
        deadline = time.monotonic() + 10
        while not srv.requests_to("/v1/forecast") and time.monotonic() < deadline:
            time.sleep(0.02)
    out.checks["model told the tool timed out"] = "timed out" in seen
    return out


def threads_db_briefly_locked(home: Path) -> Outcome:
    """Another process writes to the threads file for 1 s: the turn waits, then saves."""
    from ahora import Agent
    from ahora.testing import tool_call
    from ahora.threads import open_sqlite_saver

    db = home / "threads.sqlite"
    with _env(home):
        saver = open_sqlite_saver(db)
        lock = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        lock.execute("BEGIN EXCLUSIVE")
        timer = threading.Timer(1.0, lambda: lock.execute("ROLLBACK"))
        timer.start()
        try:
            model = _scripted(tool_call("echo", {"text": "a"}), "Saved anyway.")
            out = _ask(Agent(model, [echo], checkpointer=saver), "hello", thread="locked")
        finally:
            timer.join()
            lock.close()
        fresh = Agent(_scripted(), [echo], checkpointer=open_sqlite_saver(db))
        saved = fresh.graph.get_state({"configurable": {"thread_id": "locked"}}).values
    out.checks["turn saved to disk"] = len(saved.get("messages", [])) == 4
    return out


# --- the process dies ----------------------------------------------------------------------

_CHILD = """
import sys, time
from pathlib import Path
from ahora import Agent
from ahora.testing import ScriptedChatModel, tool_call
from ahora.threads import open_sqlite_saver

def slow(x: str) -> str:
    '''Takes a long time.'''
    Path(sys.argv[2]).write_text("started")
    time.sleep(60)
    return "done"

model = ScriptedChatModel(replies=[tool_call("slow", {"x": "1"}), "never"])
Agent(model, [slow], checkpointer=open_sqlite_saver(Path(sys.argv[1]))).ask(
    "first question", thread="killed"
)
"""


def killed_mid_turn(home: Path) -> Outcome:
    """kill -9 while a tool runs; a new process continues the thread from the SQLite file."""
    from ahora import Agent
    from ahora.testing.openai_server import OpenAIServer
    from ahora.threads import open_sqlite_saver

    home.mkdir(parents=True, exist_ok=True)
    db, flag = home / "threads.sqlite", home / "tool-started"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db), str(flag)],
        env={**os.environ, "AHORA_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not flag.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
    finally:
        child.kill()
        child.wait()
    with _env(home), OpenAIServer(script=["Continuing where we were."]) as srv:
        agent = Agent(_openai(srv), [echo], checkpointer=open_sqlite_saver(db))
        out = _ask(agent, "second question", thread="killed")
        messages = agent.graph.get_state({"configurable": {"thread_id": "killed"}}).values[
            "messages"
        ]
        wire = srv.requests[0]["messages"] if srv.requests else []
    out.checks["killed while the tool ran"] = flag.exists()
    out.checks["first question kept"] = any(m.content == "first question" for m in messages)
    out.checks["request valid: every tool call answered"] = _calls_answered(wire)
    return out


def _calls_answered(wire: list[dict[str, Any]]) -> bool:
    """OpenAI's rule: an assistant message's tool calls are each followed by a tool result."""
    for i, m in enumerate(wire):
        ids = [c["id"] for c in m.get("tool_calls") or []]
        following = []
        for n in wire[i + 1 :]:
            if n["role"] != "tool":
                break
            following.append(n["tool_call_id"])
        if ids and sorted(ids) != sorted(following):
            return False
    return bool(wire)


# --- the CLI as a subprocess ---------------------------------------------------------------


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AHORA_", "OPENAI_"))}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", "from ahora.cli.main import main; main()", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _cli_outcome(proc: subprocess.CompletedProcess[str]) -> Outcome:
    out = Outcome(text=proc.stdout.strip())
    out.answered = proc.returncode == 0 and bool(out.text)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    if proc.returncode != 0:
        out.error = errors[0] if errors else proc.stderr.strip()[-300:]
    out.crashed = "Traceback" in proc.stderr or (proc.returncode != 0 and len(errors) != 1)
    return out


SCENARIOS: list[Scenario] = [
    Scenario(
        "malformed_tool_json", "model sends malformed tool-call JSON", "answer", malformed_tool_json
    ),
    Scenario("unknown_tool", "model calls a tool that does not exist", "answer", unknown_tool),
    Scenario("empty_reply_twice", "model replies with nothing, twice", "answer", empty_reply_twice),
    Scenario("repeats_itself", "model repeats the same call forever", "answer", repeats_itself),
    Scenario(
        "provider_500_then_200", "provider answers 500, then 200", "answer", provider_500_then_200
    ),
    Scenario(
        "provider_429_retry_after",
        "provider answers 429 (Retry-After: 1)",
        "answer",
        provider_429_retry_after,
    ),
    Scenario("provider_rejects_key", "provider answers 401", "error", provider_rejects_key),
    Scenario("tool_hangs", "a tool hangs (sync)", "answer", tool_hangs),
    Scenario("async_tool_hangs", "a tool hangs (async)", "answer", async_tool_hangs),
    Scenario("tool_returns_10_mb", "a tool returns 10 MB", "answer", tool_returns_10_mb),
    Scenario("network_down", "network down (weather to a closed port)", "answer", network_down),
    Scenario(
        "data_dir_read_only_tools",
        "data directory not writable (HTTP cache)",
        "answer",
        data_dir_read_only_tools,
    ),
    Scenario(
        "data_dir_read_only_threads",
        "data directory not writable (CLI saving threads)",
        "error",
        data_dir_read_only_threads,
    ),
    Scenario(
        "http_cache_locked", "HTTP cache locked by another process", "answer", http_cache_locked
    ),
    Scenario(
        "threads_db_briefly_locked",
        "threads database locked for 1 s",
        "answer",
        threads_db_briefly_locked,
    ),
    Scenario(
        "killed_mid_turn", "process killed (-9) mid-turn, thread resumed", "answer", killed_mid_turn
    ),
]


def run_scenario(scenario: Scenario) -> Outcome:
    """Run one scenario in a fresh temporary data directory (for the benchmark)."""
    with tempfile.TemporaryDirectory(prefix="ahora-fault-") as tmp:
        try:
            return scenario.run(Path(tmp) / "home")
        except Exception as exc:  # the harness itself must not hide a crash
            return Outcome(crashed=True, error=f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fault_is_survived(scenario: Scenario, tmp_path: Path) -> None:
    outcome = scenario.run(tmp_path / "home")
    assert not outcome.crashed, outcome.error
    if scenario.expect == "answer":
        assert outcome.answered, outcome.error
    else:
        assert outcome.error and not outcome.answered
    assert outcome.turn_kept is not False, "the question was lost from the thread"
    assert outcome.checks == dict.fromkeys(outcome.checks, True), json.dumps(outcome.checks)
    assert scenario.survived(outcome)
