"""Every tool's output is capped in one place (``ToolOutputMiddleware``).

Built-in, plugin-style (``content_and_artifact``) and MCP-style tools (content-block
lists) alike: at most ``settings.tool_output_chars`` characters reach the model, head
and tail kept, with a note saying how much was cut; sources in the artifact survive.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import InjectedToolCallId, tool

from ahora import Agent
from ahora.middleware.tool_output import cap
from ahora.prompt import FENCE_CLOSE
from ahora.testing import ScriptedChatModel, tool_call
from tests.fixtures.faults import FAULTS, assert_survived

TEN_MB = 10_000_000
HEAD = "HEAD-MARKER "
TAIL = " TAIL-MARKER"


def huge(kind: str) -> str:
    """Return a very long text."""
    return HEAD + "x" * (TEN_MB - len(HEAD) - len(TAIL)) + TAIL


@tool(response_format="content_and_artifact")
def plugin_tool(query: str) -> tuple[str, dict[str, Any]]:
    """A plugin-style tool that cites a source.

    Args:
        query: What to look up.
    """
    return huge(query), {
        "sources": [{"url": "https://example.org/big", "title": "Big", "fetched_at": "now"}]
    }


@tool(response_format="content_and_artifact")
def mcp_style(query: str) -> tuple[list[dict[str, Any]], None]:
    """Like an MCP tool: a list of content blocks.

    Args:
        query: What to look up.
    """
    blocks = [
        {"type": "text", "text": HEAD + "y" * 300_000},
        {"type": "text", "text": "z" * 300_000 + TAIL},
    ]
    return blocks, None


def run(tool_obj: Any, limit: int | None, monkeypatch: pytest.MonkeyPatch) -> ToolMessage:
    if limit is not None:
        monkeypatch.setenv("AHORA_TOOL_OUTPUT_CHARS", str(limit))
    name = getattr(tool_obj, "name", getattr(tool_obj, "__name__", ""))
    model = ScriptedChatModel(
        replies=[tool_call(name, {"query" if name != "huge" else "kind": "a"}), "ok"]
    )
    answer = Agent(model, [tool_obj]).ask("go")
    assert answer.text == "ok"
    (message,) = [m for m in model.requests[-1] if isinstance(m, ToolMessage)]
    return message


def cut_note(text: str) -> tuple[int, int]:
    match = re.search(
        r"\[\.\.\. ([\d,]+) characters cut by ahora's output cap \(([\d,]+) in all\)", text
    )
    assert match, text[:200]
    return int(match[1].replace(",", "")), int(match[2].replace(",", ""))


@pytest.mark.parametrize(
    ("tool_obj", "total"), [(huge, TEN_MB), (plugin_tool, TEN_MB), (mcp_style, 600_025)]
)
def test_every_kind_of_tool_is_capped_head_and_tail_kept(
    tool_obj: Any, total: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = run(tool_obj, 2_000, monkeypatch)
    text = str(message.content)
    assert isinstance(message.content, str)
    assert len(text) < 2_000 + 400  # the cap, the note and the fence
    assert HEAD in text and TAIL in text and text.rstrip().endswith(FENCE_CLOSE)
    cut, whole = cut_note(text)
    assert whole == total and cut == total - 2_000


def test_the_default_cap_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahora.settings import Settings

    message = run(huge, None, monkeypatch)
    limit = Settings.load().tool_output_chars
    assert limit < len(str(message.content)) < limit + 400


def test_sources_survive_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    message = run(plugin_tool, 1_000, monkeypatch)
    assert message.artifact["sources"][0]["url"] == "https://example.org/big"


def test_short_output_is_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    def short(query: str) -> str:
        """Return a short text."""
        return "just this"

    message = run(short, 1_000, monkeypatch)
    assert message.content == '<tool_output tool="short">\njust this\n</tool_output>'


@pytest.mark.parametrize("limit", [1, 10, 999, 1000, 1001])
def test_cap_keeps_exactly_the_limit(limit: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    out = cap(text, limit)
    if limit >= len(text):
        assert out == text
    else:
        head, _, tail = out.partition("\n\n[...")
        tail = tail.split("...]\n\n", 1)[1]
        assert len(head) + len(tail) == limit
        assert text.startswith(head) and text.endswith(tail)


def test_fault_is_survived(tmp_path: Path) -> None:
    """A 10 MB tool output is capped."""
    assert_survived(FAULTS["tool_returns_10_mb"], tmp_path)


@tool
def blocks(query: str, call_id: Annotated[str, InjectedToolCallId]) -> ToolMessage:
    """Return content blocks, as MCP tools do."""
    content: list[Any] = [
        {"type": "text", "text": "a text block"},
        {"type": "image", "url": "https://e.example/chart.png"},
        {"type": "text", "text": "another"},
    ]
    return ToolMessage(content=content, tool_call_id=call_id, name="blocks")


def test_content_blocks_become_one_text_in_order() -> None:
    from langchain.agents import create_agent as lc_create_agent

    from ahora.middleware import ToolOutputMiddleware

    model = ScriptedChatModel(replies=[tool_call("blocks", {"query": "q"}), "Done."])
    graph = lc_create_agent(model, [blocks], middleware=[ToolOutputMiddleware(1_000)])
    state = graph.invoke({"messages": [("user", "go")]})
    [message] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert isinstance(message.content, str)
    body = message.content.split(">", 1)[1].rsplit("<", 1)[0].strip()
    lines = body.splitlines()
    assert lines[0] == "a text block"
    assert "'type': 'image'" in lines[1] and "chart.png" in lines[1]  # shown, not dropped
    assert lines[2] == "another"
    assert 'tool="blocks"' in message.content


@tool
def anonymous(query: str, call_id: Annotated[str, InjectedToolCallId]) -> ToolMessage:
    """Return a message without a tool name."""
    return ToolMessage(content="result", tool_call_id=call_id)


def test_a_message_without_a_tool_name_is_still_fenced() -> None:
    from langchain.agents import create_agent as lc_create_agent

    from ahora.middleware import ToolOutputMiddleware

    model = ScriptedChatModel(replies=[tool_call("anonymous", {"query": "q"}), "Done."])
    graph = lc_create_agent(model, [anonymous], middleware=[ToolOutputMiddleware(1_000)])
    state = graph.invoke({"messages": [("user", "go")]})
    [message] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert str(message.content).startswith("<tool_output")
    assert "result" in str(message.content) and 'tool="None"' not in str(message.content)
