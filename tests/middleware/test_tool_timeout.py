"""Each tool call gets its own time limit (``tool_timeout``, 60 s by default), and the
limit fires on time: the run goes on with a "timed out" error for that call."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from ahora import Agent
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel, tool_call
from tests.fixtures.faults import FAULTS, assert_survived

SLEEP = 6.0  # how long the stuck tools would take; far beyond any limit below
LIMIT = 0.5


def stuck(query: str) -> str:
    """Hang (a sync tool)."""
    time.sleep(SLEEP)
    return f"late {query}"


async def astuck(query: str) -> str:
    """Hang (an async tool)."""
    await asyncio.sleep(SLEEP)
    return f"late {query}"


def quick(query: str) -> str:
    """Answer at once."""
    return f"quick {query}"


def errors(messages: list[object]) -> list[str]:
    return [str(m.content) for m in messages if isinstance(m, ToolMessage) and m.status == "error"]


def test_the_documented_defaults() -> None:
    """README: per-tool timeout 60 s, each tool output capped at 12,000 characters."""
    settings = Settings()
    assert settings.tool_timeout == 60.0
    assert settings.tool_output_chars == 12_000


def test_a_sync_tool_times_out_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_TOOL_TIMEOUT", str(LIMIT))
    model = ScriptedChatModel(replies=[tool_call("stuck", {"query": "q"}), "Went on without it."])
    started = time.monotonic()
    answer = Agent(model, [stuck]).ask("go")
    elapsed = time.monotonic() - started
    assert answer.text == "Went on without it."
    [error] = errors(answer.messages)
    assert "Error: the tool stuck timed out after 0.5 s." in error
    assert LIMIT <= elapsed < 3 * LIMIT + 0.5, elapsed  # not at 20x the limit, nor at the end


async def test_an_async_tool_times_out_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_TOOL_TIMEOUT", str(LIMIT))
    model = ScriptedChatModel(replies=[tool_call("astuck", {"query": "q"}), "Went on without it."])
    started = time.monotonic()
    answer = await Agent(model, [astuck]).aask("go")
    elapsed = time.monotonic() - started
    assert answer.text == "Went on without it."
    [error] = errors(answer.messages)
    assert "Error: the tool astuck timed out after 0.5 s." in error
    assert LIMIT <= elapsed < 3 * LIMIT + 0.5, elapsed


def test_a_tool_within_its_limit_is_not_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_TOOL_TIMEOUT", str(LIMIT))
    model = ScriptedChatModel(replies=[tool_call("quick", {"query": "q"}), "Done."])
    answer = Agent(model, [quick]).ask("go")
    assert errors(answer.messages) == []
    assert any(isinstance(m, ToolMessage) and "quick q" in str(m.content) for m in answer.messages)


@pytest.mark.parametrize("fault", ["tool_hangs", "async_tool_hangs"])
def test_fault_is_survived(fault: str, tmp_path: Path) -> None:
    """A hanging tool times out and the model is told."""
    assert_survived(FAULTS[fault], tmp_path)


def test_a_hung_tool_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    """A timed-out tool's thread must not be joined at interpreter exit."""
    import subprocess
    import sys

    script = tmp_path / "hang.py"
    script.write_text(
        "import time\n"
        "from ahora import Agent\n"
        "from ahora.settings import Settings\n"
        "from ahora.testing import ScriptedChatModel, tool_call\n\n"
        "def hang(query: str) -> str:\n"
        '    """Hang."""\n'
        "    time.sleep(120)\n"
        "    return query\n\n"
        "model = ScriptedChatModel(replies=[tool_call('hang', {'query': 'x'}), 'Done.'])\n"
        "agent = Agent(model, [hang], settings=Settings(tool_timeout=0.5))\n"
        "print(agent.ask('go').text)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Done."
    assert time.monotonic() - started < 30  # was 120 s: the pool's worker was joined at exit


# -- one clock per call: the tool's limit and the run's deadline, whichever is nearer --


def _threads_waiting_in_call_within() -> int:
    import sys

    waiting = 0
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_name == "call_within":
                waiting += 1
            frame = frame.f_back
    return waiting


def test_a_timed_run_hands_a_tool_call_to_one_thread_not_two() -> None:
    """The deadline and the tool's limit share one clock: on the sync path that is one
    thread hand-off per call (two cost about 0.1 ms a step, and a thread each)."""
    seen: list[int] = []

    def probe(query: str) -> str:
        """Count the threads waiting for this call."""
        seen.append(_threads_waiting_in_call_within())
        return f"probed {query}"

    model = ScriptedChatModel(replies=[tool_call("probe", {"query": "q"}), "Done."])
    settings = Settings(tool_timeout=30.0)
    answer = Agent(model, [probe], settings=settings, timeout=60).ask("go")
    assert answer.text == "Done."
    assert seen == [1]


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize(
    ("tool_limit", "run_limit", "expected"),
    [
        (LIMIT, 30.0, "timed out after 0.5 s"),  # the tool's own limit is nearer
        (30.0, 1.0, "was stopped: the time limit for this answer has passed"),  # the run's
    ],
)
def test_the_nearer_limit_cuts_the_call_and_names_itself(
    path: str, tool_limit: float, run_limit: float, expected: str
) -> None:
    tool = stuck if path == "sync" else astuck
    model = ScriptedChatModel(replies=[tool_call(tool.__name__, {"query": "q"}), "Went on."])
    agent = Agent(model, [tool], settings=Settings(tool_timeout=tool_limit), timeout=run_limit)
    started = time.monotonic()
    answer = agent.ask("go") if path == "sync" else asyncio.run(agent.aask("go"))
    elapsed = time.monotonic() - started
    [error] = errors(answer.messages)
    assert expected in error, error
    assert elapsed < min(tool_limit, run_limit) + 2.0, elapsed  # cut at the nearer one


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_call_whose_deadline_passed_on_the_way_in_is_never_started(path: str) -> None:
    """The deadline may pass after DeadlineMiddleware looked and before the clock
    starts: the tool is then not started (not started and abandoned, running on)."""
    from types import SimpleNamespace

    from ahora.context import RunContext
    from ahora.middleware.tool_timeout import ToolTimeoutMiddleware

    started: list[str] = []
    context = RunContext(settings=Settings(), deadline=time.time() - 0.01)
    request: Any = SimpleNamespace(
        tool=None,
        tool_call={"name": "quick", "id": "c1", "args": {}},
        runtime=SimpleNamespace(context=context),
    )
    middleware = ToolTimeoutMiddleware(30.0)

    def handler(_: Any) -> ToolMessage:
        started.append("quick")
        return ToolMessage("ran", tool_call_id="c1")

    async def ahandler(_: Any) -> ToolMessage:
        return handler(_)

    if path == "sync":
        result = middleware.wrap_tool_call(request, handler)
    else:
        result = asyncio.run(middleware.awrap_tool_call(request, ahandler))
    time.sleep(0.2)  # a call handed to a thread would have started by now
    assert started == []
    assert "time limit" in str(result.content)
