"""The timeline drawn from what runs record: as text (80 columns, piped, on a pyte
screen through ``ahora threads show --timeline``) and as an SVG chart in a notebook."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from ahora import Agent
from ahora.testing import ScriptedChatModel, tool_call
from ahora.timeline import timeline
from ahora.timing import TIMING
from tests.test_notebooks import kernel_of_this_python  # noqa: F401  (a fixture)

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "timeline.ipynb"


def lookup(topic: str) -> str:
    """Look a topic up (slowly).

    Args:
        topic: What to look up.
    """
    time.sleep(0.05)
    return f"{topic}: " + "x" * 2000


def explode(what: str) -> str:
    """Always fails.

    Args:
        what: Anything.
    """
    raise ValueError(f"no {what}")


def down(messages: list[BaseMessage], tools: Any) -> AIMessage:
    raise RuntimeError("overloaded")


def run_with_a_fallback_and_a_failure(**agent: Any) -> Any:
    primary = ScriptedChatModel(replies=[down, "one", "two"], model_name="primary")
    backup = ScriptedChatModel(
        replies=[tool_call("lookup", {"topic": "tides"}), tool_call("explode", {"what": "x"})],
        model_name="backup",
    )
    ai = Agent(primary, [lookup, explode], fallbacks=[backup], **agent)
    first = ai.ask("Tides today?")
    return ai, first


def test_the_waterfall_has_each_call_in_order_with_failures_marked() -> None:
    _, answer = run_with_a_fallback_and_a_failure()
    drawn = answer.timeline()
    kinds = [(b.kind, b.label, b.failed) for b in drawn.bars]
    assert kinds == [
        ("model", "primary", True),  # refused first...
        ("model", "backup", False),  # ...and the fallback answered
        ("tool", "lookup", False),
        ("model", "primary", False),
    ]
    starts = [b.start for b in drawn.bars]
    assert starts == sorted(starts) and starts[0] == 0.0
    tool = drawn.bars[2]
    assert tool.seconds >= 0.05 and tool.detail == "2.0 KB"
    assert drawn.bars[1].detail.endswith(" tok") and "→" in drawn.bars[1].detail
    lines = drawn.lines(80)
    assert all(len(line) <= 80 for line in lines)
    assert lines[0] == "› Tides today?"
    assert "1 failed" in lines[1] and "3 model calls" in lines[1]
    failed = next(line for line in lines if line.startswith("✗ chat primary"))
    assert "▒" in failed and failed.endswith("RuntimeError")
    lookup_row = next(line for line in lines if line.startswith("tool lookup"))
    assert "█" in lookup_row and lookup_row.endswith("2.0 KB")
    # The tool's bar sits right of the model call that asked for it.
    backup_row = next(line for line in lines if line.startswith("chat backup"))
    assert lookup_row.index("█") >= backup_row.index("█")
    assert lookup_row.rindex("█") > backup_row.rindex("█")


def test_a_failing_tool_is_marked_and_turns_are_chosen_by_number() -> None:
    primary = ScriptedChatModel(replies=["hello", tool_call("explode", {"what": "x"}), "sorry"])
    ai = Agent(primary, [explode])
    first = ai.ask("hi")
    second = ai.ask("break it", thread=first.thread_id)
    drawn = second.timeline()
    assert (drawn.turn, drawn.turns) == (2, 2)
    assert [(b.label, b.failed, b.note) for b in drawn.bars if b.kind == "tool"] == [
        ("explode", True, "error")
    ]
    assert next(line for line in drawn.lines() if "tool explode" in line).endswith("error")
    earlier = second.timeline(1)
    assert earlier.question == "hi" and [b.kind for b in earlier.bars] == ["model"]
    with pytest.raises(IndexError, match="has 2"):
        second.timeline(3)


def test_narrow_widths_still_fit_and_a_turn_without_records_says_so() -> None:
    _, answer = run_with_a_fallback_and_a_failure()
    for width in (40, 50, 120):
        assert all(len(line) <= width for line in answer.timeline().lines(width))
    old = [HumanMessage("old question"), AIMessage("old answer")]
    lines = timeline(old).lines()
    assert "no timing recorded" in lines[-1]


def test_names_from_outside_are_cleaned_and_escaped() -> None:
    hostile = "evil\x1b[2J<script>alert(1)</script>"
    record = {"start": 10.0, "end": 11.0, "outcome": "ok", "bytes": 5}
    messages = [
        HumanMessage("q"),
        ToolMessage("x", tool_call_id="1", name=hostile, response_metadata={TIMING: record}),
    ]
    drawn = timeline(messages)
    assert not any("\x1b" in line for line in drawn.lines())
    svg = drawn._repr_html_()
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_chart_is_an_svg_with_one_bar_per_call() -> None:
    _, answer = run_with_a_fallback_and_a_failure()
    svg = answer.timeline()._repr_html_()
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 4
    assert svg.count('fill="#d9534f"') == 1  # the failed attempt in red
    assert "2.0 KB" in svg


# --- in the terminal ---------------------------------------------------------------


@pytest.fixture
def saved_thread() -> str:
    ai, first = run_with_a_fallback_and_a_failure(threads=True)
    ai.ask("And tomorrow?", thread=first.thread_id)
    ai.close()
    return str(first.thread_id)


@pytest.mark.slow
@pytest.mark.parametrize("cols", [80, 60])
def test_threads_show_timeline_fits_the_terminal(saved_thread: str, cols: int) -> None:
    from tests.cli.screen import screen_of

    lines = screen_of("threads", "show", saved_thread[:8], "--timeline", cols=cols)
    assert lines[0] == "› And tomorrow?"
    assert all(len(line) <= cols for line in lines)
    assert any(line.startswith("chat primary") and "█" in line for line in lines)
    lines = screen_of("threads", "show", saved_thread[:8], "--timeline", "--turn", "1", cols=cols)
    assert lines[0] == "› Tides today?"
    assert any(line.startswith("✗ chat primary") for line in lines)
    assert any(line.startswith("tool lookup") and line.endswith("2.0 KB") for line in lines)


@pytest.mark.slow
def test_threads_show_timeline_piped(saved_thread: str) -> None:
    def piped(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ahora", "threads", "show", saved_thread, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = piped("--timeline", "--turn", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "› Tides today?" and "\x1b" not in done.stdout
    assert all(len(line) <= 80 for line in lines)
    assert sum(1 for line in lines if "█" in line or "▒" in line) == 4
    missing = piped("--timeline", "--turn", "9")
    assert missing.returncode != 0 and "turn 9 does not exist" in missing.stderr
    alone = piped("--turn", "1")
    assert alone.returncode != 0 and "--turn goes with --timeline" in alone.stderr


# --- in a notebook -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("kernel_of_this_python")
def test_the_notebook_shows_the_chart() -> None:
    import nbclient
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    charts = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(charts) == 1 and charts[0].startswith("<svg")
    # Three model calls and the two calculator calls between them.
    assert charts[0].count("<rect") == 5
    assert any("tool calculator" in str(o.get("text", "")) for o in outputs)  # print()
