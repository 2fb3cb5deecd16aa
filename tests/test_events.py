"""Typed events: built from LangGraph's stream modes, in a sensible order, ending with Finished."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.types import Interrupt

from ahora import Agent
from ahora.events import (
    ApprovalRequested,
    Event,
    EventBuilder,
    Finished,
    StepStarted,
    Token,
    ToolCalled,
    ToolFinished,
    UsageReported,
    answer_from_messages,
)
from ahora.middleware.budget import STOPPED_EARLY
from ahora.testing import ScriptedChatModel, tool_calls
from ahora.testing.openai_server import OpenAIServer

FETCHED = "2026-11-19T10:00:00+00:00"


@tool(response_format="content_and_artifact")
def fetch(url: str) -> tuple[str, dict[str, Any]]:
    """Fetch a page.

    Args:
        url: The page's address.
    """
    return f"Text of {url}", {
        "sources": [{"url": url, "title": f"Page {url[-1]}", "fetched_at": FETCHED}]
    }


def kinds(events: list[Event]) -> list[str]:
    """Event class names with runs of Token collapsed, for order assertions."""
    out: list[str] = []
    for e in events:
        name = type(e).__name__
        if not (name == "Token" and out and out[-1] == "Token"):
            out.append(name)
    return out


# --- EventBuilder on hand-made stream chunks -----------------------------------------


def test_tokens_come_only_from_the_model_node_and_only_with_text() -> None:
    b = EventBuilder()
    assert b.start() == [StepStarted(1)]
    assert b.feed("messages", (AIMessageChunk(content="Hel"), {"langgraph_node": "model"})) == [
        Token("Hel")
    ]
    assert b.feed("messages", (AIMessageChunk(content=""), {"langgraph_node": "model"})) == []
    assert b.feed("messages", (AIMessageChunk(content="x"), {"langgraph_node": "tools"})) == []
    assert (
        b.feed(
            "messages", (ToolMessage(content="t", tool_call_id="1"), {"langgraph_node": "tools"})
        )
        == []
    )
    assert b.feed("custom", {"anything": 1}) == []


def test_updates_give_usage_tool_calls_then_finished_tools_then_the_next_step() -> None:
    b = EventBuilder()
    b.start()
    ai = AIMessage(
        content="",
        tool_calls=[
            {
                "name": "fetch",
                "args": {"url": "https://a.example"},
                "id": "c1",
                "type": "tool_call",
            },
            {
                "name": "fetch",
                "args": {"url": "https://b.example"},
                "id": "c2",
                "type": "tool_call",
            },
        ],
        usage_metadata={"input_tokens": 10, "output_tokens": 4, "total_tokens": 14},
    )
    events = b.feed("updates", {"model": {"messages": [ai]}})
    assert events == [
        UsageReported(10, 4),
        ToolCalled("c1", "fetch", {"url": "https://a.example"}),
        ToolCalled("c2", "fetch", {"url": "https://b.example"}),
    ]
    source = {"url": "https://a.example", "title": "A", "fetched_at": FETCHED}
    first = ToolMessage(
        content='<tool_output tool="fetch">\n  Text   of A\n</tool_output>',
        tool_call_id="c1",
        name="fetch",
        artifact={"sources": [source]},
    )
    events = b.feed("updates", {"tools": {"messages": [first]}})
    assert len(events) == 1 and isinstance(events[0], ToolFinished)
    assert events[0].preview == "Text of A"  # fence removed, whitespace folded
    assert events[0].sources == [source] and events[0].error is None
    assert events[0].seconds >= 0
    failed = ToolMessage(
        content="Error: no such page", tool_call_id="c2", name="fetch", status="error"
    )
    events = b.feed("updates", {"tools": {"messages": [failed]}})
    assert isinstance(events[0], ToolFinished) and events[0].error == "Error: no such page"
    assert events[1:] == [StepStarted(2)]  # the last pending tool finished


def test_error_from_the_artifact_wins_and_long_previews_are_cut() -> None:
    b = EventBuilder()
    b.start()
    b.feed(
        "updates",
        {
            "model": {
                "messages": [
                    AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": "x"}])
                ]
            }
        },
    )
    message = ToolMessage(
        content="y" * 500, tool_call_id="x", name="t", status="error", artifact={"error": "boom"}
    )
    (finished, step) = b.feed("updates", {"tools": {"messages": [message]}})
    assert isinstance(finished, ToolFinished)
    assert finished.error == "boom"
    assert len(finished.preview) == 160 and finished.preview.endswith("…")
    assert step == StepStarted(2)


def test_interrupts_become_approval_requests() -> None:
    b = EventBuilder()
    value = {"action_requests": [{"id": "c9", "name": "send_mail", "args": {"to": "x@y.z"}}]}
    events = b.feed("updates", {"__interrupt__": (Interrupt(value=value, id="i1"),)})
    assert events == [ApprovalRequested("c9", "send_mail", {"to": "x@y.z"})]
    assert b.feed("updates", {"__interrupt__": (Interrupt(value="not a dict", id="i2"),)}) == []


def test_answer_from_messages_reads_only_the_last_run() -> None:
    src = {"url": "https://a.example", "title": "A", "fetched_at": FETCHED}
    old = [
        HumanMessage("first question"),
        AIMessage(
            content="",
            tool_calls=[{"name": "old", "args": {}, "id": "o"}],
            usage_metadata={"input_tokens": 100, "output_tokens": 100, "total_tokens": 200},
        ),
        ToolMessage(
            content="x",
            tool_call_id="o",
            artifact={"sources": [{**src, "url": "https://old.example"}]},
        ),
        AIMessage(content="old answer"),
    ]
    run = [
        HumanMessage("second question"),
        AIMessage(
            content="",
            tool_calls=[{"name": "fetch", "args": {"url": "u"}, "id": "1"}],
            usage_metadata={"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
        ),
        ToolMessage(content="x", tool_call_id="1", artifact={"sources": [src]}),
        ToolMessage(content="x", tool_call_id="1", artifact={"sources": [src]}),  # same URL again
        AIMessage(
            content="new answer",
            response_metadata={STOPPED_EARLY: True},
            usage_metadata={"input_tokens": 7, "output_tokens": 3, "total_tokens": 10},
        ),
    ]
    answer = answer_from_messages(old + run, thread_id="t1", model="m", seconds=1.5)
    assert answer.text == "new answer"
    assert answer.sources == [src]
    assert answer.tool_calls == [{"name": "fetch", "args": {"url": "u"}}]
    assert answer.usage == {"input_tokens": 12, "output_tokens": 5}
    assert (answer.steps, answer.thread_id, answer.model, answer.seconds) == (2, "t1", "m", 1.5)
    assert answer.stopped_early
    assert len(answer.messages) == 9


# --- events from a real run ----------------------------------------------------------


def _check_run(events: list[Event]) -> None:
    assert kinds(events) == [
        "StepStarted",
        "UsageReported",
        "ToolCalled",
        "ToolCalled",
        "ToolFinished",
        "ToolFinished",
        "StepStarted",
        "Token",
        "UsageReported",
        "Finished",
    ]
    assert [e.step for e in events if isinstance(e, StepStarted)] == [1, 2]
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert sorted(e.sources[0]["url"] for e in finished) == [
        "https://a.example",
        "https://b.example",
    ]
    calls = [e for e in events if isinstance(e, ToolCalled)]
    assert {c.call_id for c in calls} == {f.call_id for f in finished}
    text = "".join(e.text for e in events if isinstance(e, Token))
    last = events[-1]
    assert isinstance(last, Finished)
    answer = last.answer
    assert answer.text == text == "See https://a.example for details."
    assert [s["url"] for s in answer.sources] == ["https://a.example", "https://b.example"]
    assert [s["url"] for s in answer.cited_sources] == ["https://a.example"]
    assert [c["name"] for c in answer.tool_calls] == ["fetch", "fetch"]
    assert answer.usage["input_tokens"] > 0 and answer.usage["output_tokens"] > 0
    assert answer.thread_id and answer.steps == 2


_SCRIPT = [
    tool_calls(("fetch", {"url": "https://a.example"}), ("fetch", {"url": "https://b.example"})),
    "See https://a.example for details.",
]


def test_stream_order_with_the_scripted_model() -> None:
    events = list(Agent(ScriptedChatModel(replies=_SCRIPT), [fetch]).stream("read both"))
    assert len([e for e in events if isinstance(e, Token)]) > 3  # streamed word by word
    _check_run(events)


async def test_astream_order_with_the_scripted_model() -> None:
    events = [
        e async for e in Agent(ScriptedChatModel(replies=_SCRIPT), [fetch]).astream("read both")
    ]
    _check_run(events)


@pytest.mark.parametrize("use_async", [False, True])
async def test_stream_order_with_the_real_openai_client(use_async: bool) -> None:
    script = [
        {
            "tool_calls": [
                {"name": "fetch", "arguments": {"url": "https://a.example"}},
                {"name": "fetch", "arguments": {"url": "https://b.example"}},
            ]
        },
        "See https://a.example for details.",
    ]
    with OpenAIServer(script=script) as srv:
        model = ChatOpenAI(
            model="test-model",
            api_key="test",
            base_url=srv.base_url,
            max_retries=0,
            stream_usage=True,  # type: ignore[arg-type]
        )
        agent = Agent(model, [fetch])
        if use_async:
            events = [e async for e in agent.astream("read both")]
        else:
            events = list(agent.stream("read both"))
    assert all(body["stream"] for body in srv.requests)
    _check_run(events)


def test_events_render_as_markdown_in_notebooks() -> None:
    from ahora.events import ApprovalRequested, StepStarted, ToolCalled, ToolFinished

    assert ToolCalled("c1", "weather", {"location": "Santiago"})._repr_markdown_() == (
        "→ <code>weather(location=&#x27;Santiago&#x27;)</code>"
    )
    done = ToolFinished("c1", "weather", "Santiago: 24 °C", None, [], 0.4)._repr_markdown_()
    assert done == "✓ <code>weather</code> · 0.4 s — Santiago: 24 °C"
    failed = ToolFinished("c2", "read_page", "", "timed out", [], 60.0)._repr_markdown_()
    assert failed.startswith("✗ <code>read_page</code>") and "timed out" in failed
    hostile = ToolFinished("c3", "read_page", "<img src=x onerror=alert(1)>", None, [], 1.0)
    assert "<img" not in hostile._repr_markdown_() and "&lt;img" in hostile._repr_markdown_()
    assert "needs approval" in ApprovalRequested("c3", "send", {})._repr_markdown_()
    assert StepStarted(2)._repr_markdown_() == "*step 2*"


# --- details a front end relies on ---------------------------------------------------------


def test_a_finished_tool_reports_how_long_it_ran() -> None:
    import time

    b = EventBuilder()
    b.start()
    call = AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": "x"}])
    b.feed("updates", {"model": {"messages": [call]}})
    time.sleep(0.3)
    done = ToolMessage(content="ok", tool_call_id="x", name="t")
    finished, _ = b.feed("updates", {"tools": {"messages": [done]}})
    assert isinstance(finished, ToolFinished)
    assert 0.3 <= finished.seconds < 3


def test_markdown_of_every_event_is_inert_and_informative() -> None:
    from ahora.answer import Answer

    src = {"url": "https://a.example", "title": "A", "fetched_at": FETCHED}
    found = ToolFinished("c1", "web_search", "`rm -rf`\nnext", None, [src, src], 1.25)
    assert found._repr_markdown_() == (
        "✓ <code>web_search</code> · 1.2 s · 2 sources — &#96;rm -rf&#96; next"
    )
    assert UsageReported(1234, 5)._repr_markdown_() == "*1,234 + 5 tokens*"
    assert Token("a <b> c")._repr_markdown_() == "a &lt;b> c"
    call = ToolCalled("c2", "t`x", {"q": "a\nb"})._repr_markdown_()
    assert "`" not in call and "\n" not in call
    answer = Answer(text="Done.")
    assert Finished(answer)._repr_markdown_() == answer._repr_markdown_()


def test_the_stop_reason_and_sources_without_an_address() -> None:
    run = [
        HumanMessage("q"),
        AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": "1"}]),
        ToolMessage(
            content="x",
            tool_call_id="1",
            artifact={"sources": [{"title": "no url"}, {"url": "https://b.example"}]},
        ),
        AIMessage(
            content="partial", response_metadata={STOPPED_EARLY: "the step budget is used up"}
        ),
    ]
    answer = answer_from_messages(run, thread_id=None, model=None, seconds=0.0)
    assert answer.stopped_early and answer.stop_reason == "the step budget is used up"
    assert [s.get("url") for s in answer.sources] == ["https://b.example"]
    assert answer.text == "partial"


def test_a_history_without_a_user_message_is_one_run() -> None:
    run = [AIMessage(content="hello", usage_metadata=_usage(3, 4))]
    answer = answer_from_messages(run, thread_id=None, model=None, seconds=0.0)
    assert (answer.text, answer.steps, answer.usage) == (
        "hello",
        1,
        {"input_tokens": 3, "output_tokens": 4},
    )
    assert not answer.stopped_early and answer.stop_reason is None


def _usage(i: int, o: int) -> Any:
    return {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}


def test_only_update_chunks_make_tool_events() -> None:
    """A "values" or "custom" chunk shaped like an update must not double the events."""
    b = EventBuilder()
    b.start()
    call = AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": "x"}])
    assert b.feed("values", {"model": {"messages": [call]}}) == []
    assert b.feed("custom", {"model": {"messages": [call]}}) == []
    assert b.feed("updates", ["not", "a", "dict"]) == []


def test_a_tool_message_without_a_name_and_a_request_without_arguments() -> None:
    b = EventBuilder()
    b.start()
    (finished, _) = b.feed(
        "updates", {"tools": {"messages": [ToolMessage("ok", tool_call_id="x")]}}
    )
    assert isinstance(finished, ToolFinished) and finished.name == ""
    value = {"action_requests": [{"id": "c1", "name": "send"}]}
    events = b.feed("updates", {"__interrupt__": (Interrupt(value=value, id="i"),)})
    assert events == [ApprovalRequested("c1", "send", {})]


def test_whole_messages_in_the_message_stream_are_not_tokens() -> None:
    """A model that does not stream sends one whole message: the answer comes with
    Finished, not as a token (it would be shown twice)."""
    b = EventBuilder()
    assert b.feed("messages", (AIMessage(content="whole"), {"langgraph_node": "model"})) == []


def test_tool_results_without_sources_and_event_defaults() -> None:
    run = [
        HumanMessage("q"),
        AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": "1"}]),
        ToolMessage(content="x", tool_call_id="1", artifact={"note": "no sources key"}),
        ToolMessage(content="y", tool_call_id="1", artifact={"sources": None}),
        AIMessage(content="done"),
    ]
    answer = answer_from_messages(run, thread_id=None, model=None, seconds=0.0)
    assert answer.sources == [] and answer.text == "done"
    finished = ToolFinished("c", "t", "p")
    assert (finished.error, finished.sources, finished.seconds) == (None, [], 0.0)
