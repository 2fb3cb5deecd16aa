"""Tool calls left unanswered by a run that died get a "never finished" note in the
model request (every tool call must be followed by its result), not in the thread."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from ahora import Agent
from ahora.middleware.dangling_calls import NOT_FINISHED, _well_formed, answer_dangling
from ahora.testing import ScriptedChatModel


def calls(*ids: str) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[
            {"name": "lookup", "args": {"q": i}, "id": i, "type": "tool_call"} for i in ids
        ],
    )


def result(call_id: str) -> ToolMessage:
    return ToolMessage(content=f"result {call_id}", tool_call_id=call_id, name="lookup")


def shape(messages: list[Any]) -> list[str]:
    out = []
    for m in messages:
        if isinstance(m, ToolMessage):
            note = "note" if m.content == NOT_FINISHED else "result"
            out.append(f"{note} {m.tool_call_id}")
        else:
            out.append(type(m).__name__)
    return out


def test_an_unanswered_call_is_answered_right_after_its_message() -> None:
    messages = [HumanMessage("q"), calls("a", "b"), result("a"), HumanMessage("again")]
    fixed = answer_dangling(messages)
    assert shape(fixed) == [
        "HumanMessage",
        "AIMessage",
        "result a",
        "note b",
        "HumanMessage",
    ]
    note = fixed[3]
    assert isinstance(note, ToolMessage) and note.status == "error" and note.name == "lookup"


def test_dangling_calls_at_the_end_are_answered_too() -> None:
    fixed = answer_dangling([HumanMessage("q"), calls("a", "b")])
    assert shape(fixed) == ["HumanMessage", "AIMessage", "note a", "note b"]


def test_a_complete_history_is_left_as_it_is() -> None:
    messages = [HumanMessage("q"), calls("a"), result("a"), AIMessage("done")]
    assert answer_dangling(messages) == messages


async def test_a_thread_that_died_mid_tool_continues_on_the_async_path() -> None:
    model = ScriptedChatModel(replies=["Carried on."])
    agent = Agent(model, [])
    config: Any = {"configurable": {"thread_id": "t1"}}
    agent.graph.update_state(config, {"messages": [HumanMessage("first"), calls("x")]})
    answer = await agent.aask("go on", thread="t1")
    assert answer.text == "Carried on."
    sent = model.requests[0]
    assert shape(sent)[-3:] == ["AIMessage", "note x", "HumanMessage"]
    saved = agent.graph.get_state(config).values["messages"]
    assert not any(isinstance(m, ToolMessage) for m in saved)  # the thread keeps the truth


def test_an_id_answered_in_another_turn_does_not_answer_this_call() -> None:
    """Models that number calls per reply reuse ``call_0_0`` every turn: a result in
    one turn never counts for a call in another, before it or after it."""
    later_answered = [HumanMessage("q"), calls("call_0_0"), HumanMessage("again")]
    later_answered += [calls("call_0_0"), result("call_0_0")]
    assert shape(answer_dangling(later_answered)) == [
        "HumanMessage",
        "AIMessage",
        "note call_0_0",
        "HumanMessage",
        "AIMessage",
        "result call_0_0",
    ]
    earlier_answered = [HumanMessage("q"), calls("call_0_0"), result("call_0_0")]
    earlier_answered += [HumanMessage("again"), calls("call_0_0"), HumanMessage("more")]
    assert shape(answer_dangling(earlier_answered))[-3:] == [
        "AIMessage",
        "note call_0_0",
        "HumanMessage",
    ]


def test_a_result_that_answers_no_call_of_its_turn_is_left_out() -> None:
    """A result after a user message (or for an id its reply never made) would be
    refused by the API: the request goes without it, the call before gets its note."""
    messages = [HumanMessage("q"), calls("x"), HumanMessage("again"), result("x")]
    messages += [calls("y"), result("z"), result("y")]
    assert shape(answer_dangling(messages)) == [
        "HumanMessage",
        "AIMessage",
        "note x",
        "HumanMessage",
        "AIMessage",
        "result y",
    ]


def test_a_second_result_for_one_call_is_left_out() -> None:
    messages = [HumanMessage("q"), calls("x"), result("x"), result("x"), AIMessage("done")]
    assert shape(answer_dangling(messages)) == [
        "HumanMessage",
        "AIMessage",
        "result x",
        "AIMessage",
    ]


# --- the check before each call resumes from the last step ---------------------------

_STEP = st.one_of(
    st.just("ask"),
    st.lists(st.sampled_from(["c0", "c1", "c2"]), max_size=2).map(lambda ids: ("call", ids)),
    st.sampled_from(["c0", "c1", "c2"]).map(lambda i: ("result", i)),
    st.just("swap"),
    st.just("drop"),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_STEP, max_size=30))
def test_well_formed_step_by_step_agrees_with_a_fresh_check(steps: list[Any]) -> None:
    """Checked after each change (resuming from the previous check), a thread is judged
    as a fresh copy of it is: through answered and unanswered calls, stray results,
    replaced and dropped messages."""
    messages: list[Any] = [HumanMessage("first")]
    for i, step in enumerate(steps):
        if step == "ask":
            messages = [*messages, HumanMessage(f"q{i}")]
        elif step == "swap":
            at = i % len(messages)  # another message of another kind in its place
            other = ToolMessage("x", tool_call_id="c0") if at else messages[at].model_copy()
            messages = [*messages[:at], other, *messages[at + 1 :]]
        elif step == "drop":
            messages = messages[:-1] or [HumanMessage("first")]
        elif step[0] == "call":
            calls = [{"name": "t", "args": {}, "id": c} for c in step[1]]
            messages = [*messages, AIMessage("", tool_calls=calls)]
        else:
            messages = [*messages, ToolMessage("r", tool_call_id=step[1])]
        fresh = [m.model_copy() for m in messages]
        assert _well_formed(messages) == _well_formed(fresh), steps[: i + 1]
        assert answer_dangling(messages) == answer_dangling(fresh)
