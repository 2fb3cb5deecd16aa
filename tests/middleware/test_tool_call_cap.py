"""One model reply runs at most ``max_tool_calls_per_reply`` tool calls (issue 18, item
14); every other call of that reply is answered with an error the model reads."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from langchain_core.messages import ToolMessage

from ahora import Agent
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel, tool_calls


def _fetcher() -> tuple[list[str], Any]:
    runs: list[str] = []
    lock = threading.Lock()

    def fetch(url: str) -> str:
        """Fetch a page."""
        with lock:
            runs.append(url)
        return f"text of {url}"

    return runs, fetch


def _run(settings: Settings, calls: int) -> tuple[list[str], list[ToolMessage], Any]:
    runs, fetch = _fetcher()
    reply = tool_calls(*[("fetch", {"url": f"https://e.example/{i}"}) for i in range(calls)])
    model = ScriptedChatModel(replies=[reply, "Done."])
    answer = Agent(model, [fetch], settings=settings, max_steps=5).ask("read them all")
    results = [m for m in answer.messages if isinstance(m, ToolMessage)]
    return runs, results, answer


def test_a_reply_asking_for_200_calls_runs_16(tmp_path: Path) -> None:
    runs, results, answer = _run(Settings(home=tmp_path), 200)
    assert len(runs) == 16
    assert sorted(runs) == sorted(f"https://e.example/{i}" for i in range(16))
    assert len(results) == 200  # every call answered: the conversation stays valid
    refused = [m for m in results if m.status == "error"]
    assert len(refused) == 184
    assert all("at most 16 tool calls" in str(m.content) for m in refused)
    assert answer.text == "Done."


def test_the_cap_is_a_setting_read_per_run(tmp_path: Path) -> None:
    runs, results, _ = _run(Settings(home=tmp_path, max_tool_calls_per_reply=3), 5)
    assert len(runs) == 3 and len(results) == 5
    runs, results, _ = _run(Settings(home=tmp_path), 16)  # at the cap: all run
    assert len(runs) == 16 and all(m.status != "error" for m in results)
