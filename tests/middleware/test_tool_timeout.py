"""Each tool call gets its own time limit (``tool_timeout``, 60 s by default), and the
limit fires on time: the run goes on with a "timed out" error for that call."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

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
