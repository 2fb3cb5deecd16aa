"""The loop guard: a repeated identical tool call, or steps that add nothing new, end the
tool calling and the agent answers from what it has (``stopped_early``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI

from ahora import Agent
from ahora.middleware.loop_guard import _key, earlier_call, same_call
from ahora.testing import ScriptedChatModel, tool_call, tool_calls
from ahora.testing.openai_server import OpenAIServer
from tests.fixtures.faults import FAULTS, assert_survived


class Counter:
    """A tool that counts its runs; ``constant`` makes every result the same."""

    def __init__(self, constant: bool = False) -> None:
        self.runs: list[str] = []
        self.constant = constant

    def tool(self) -> Any:
        def lookup(query: str) -> str:
            """Look a query up."""
            self.runs.append(query)
            return "nothing found" if self.constant else f"facts about {query}"

        return lookup


def answer_when_tools_go(call: AIMessage, final: str = "Answer from what I have.") -> Any:
    """Repeat ``call`` (with a fresh id each time) while tools are offered, then answer."""

    def reply(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        if not tools:
            return final
        return tool_calls(*((c["name"], c["args"]) for c in call.tool_calls))

    return reply


def repeat_notes(messages: list[Any]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage) and "Not run" in str(m.content)]


def test_the_same_call_again_is_not_run_and_the_agent_answers() -> None:
    counter = Counter()
    model = ScriptedChatModel(
        replies=[answer_when_tools_go(tool_call("lookup", {"query": "x"}))] * 9
    )
    answer = Agent(model, [counter.tool()], max_steps=9).ask("loop")
    assert counter.runs == ["x"]  # ran once
    assert len(repeat_notes(answer.messages)) == 1
    assert answer.text == "Answer from what I have."
    assert answer.stopped_early and answer.steps == 3
    assert "same tool call was asked for again" in str(model.requests[-1][0].content)


async def test_the_guard_on_the_async_path() -> None:
    counter = Counter()
    model = ScriptedChatModel(
        replies=[answer_when_tools_go(tool_call("lookup", {"query": "x"}))] * 9
    )
    answer = await Agent(model, [counter.tool()]).aask("loop")
    assert counter.runs == ["x"] and answer.stopped_early


def test_argument_order_does_not_hide_a_repeat() -> None:
    counter = Counter()

    def lookup2(query: str, lang: str) -> str:
        """Look a query up in a language."""
        counter.runs.append(query)
        return f"{query} in {lang}"

    model = ScriptedChatModel(
        replies=[
            tool_call("lookup2", {"query": "x", "lang": "es"}),
            tool_call("lookup2", {"lang": "es", "query": "x"}),
            "Done.",
        ]
    )
    answer = Agent(model, [lookup2]).ask("go")
    assert counter.runs == ["x"] and answer.stopped_early


def test_duplicate_calls_in_one_turn_run_once() -> None:
    counter = Counter()
    model = ScriptedChatModel(
        replies=[tool_calls(("lookup", {"query": "x"}), ("lookup", {"query": "x"})), "Done."]
    )
    answer = Agent(model, [counter.tool()]).ask("go")
    assert counter.runs == ["x"]
    assert len(repeat_notes(answer.messages)) == 1


def test_fresh_arguments_are_not_a_loop() -> None:
    counter = Counter()
    replies = [tool_call("lookup", {"query": q}) for q in "abcd"] + ["All four."]
    answer = Agent(ScriptedChatModel(replies=replies), [counter.tool()]).ask("go")
    assert counter.runs == list("abcd")
    assert answer.text == "All four." and not answer.stopped_early


def test_steps_that_add_nothing_new_land_the_run() -> None:
    """Different arguments, the same result every time: three stale steps and it lands."""
    counter = Counter(constant=True)
    seen_tools: list[int] = []

    def reply(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        seen_tools.append(len(tools))
        if not tools:
            return "Nothing found anywhere."
        return tool_call("lookup", {"query": f"q{len(seen_tools)}"})

    model = ScriptedChatModel(replies=[reply] * 12)
    answer = Agent(model, [counter.tool()], max_steps=12).ask("go")
    assert answer.stopped_early
    # step 1 is new, steps 2-4 repeat it: the 5th call answers without tools
    assert seen_tools == [1, 1, 1, 1, 0]
    assert "added no new information" in str(model.requests[-1][0].content)
    assert answer.text == "Nothing found anywhere."


def test_a_new_turn_may_repeat_a_call_of_an_earlier_turn() -> None:
    counter = Counter()
    model = ScriptedChatModel(
        replies=[
            tool_call("lookup", {"query": "x"}),
            "First.",
            tool_call("lookup", {"query": "x"}),
            "Second, with fresh data.",
        ]
    )
    agent = Agent(model, [counter.tool()])
    first = agent.ask("now")
    second = agent.ask("and now?", thread=first.thread_id)
    assert counter.runs == ["x", "x"]
    assert second.text == "Second, with fresh data." and not second.stopped_early


@pytest.mark.parametrize("stream", [False, True])
def test_a_server_that_reuses_call_ids_is_still_caught(stream: bool) -> None:
    """Some OpenAI-compatible servers number calls call_0, call_1... afresh every turn."""
    counter = Counter()
    call = {"tool_calls": [{"id": "call_0", "name": "lookup", "arguments": {"query": "x"}}]}
    with OpenAIServer(script=[call, call, "Answer from the first result."]) as srv:
        model = ChatOpenAI(
            model="test-model",
            api_key="sk-test",
            base_url=srv.base_url,
            max_retries=0,
            streaming=stream,  # type: ignore[arg-type]
        )
        answer = Agent(model, [counter.tool()]).ask("loop")
        assert "tools" in srv.requests[0]
        assert "tools" not in srv.requests[-1]  # the last call was made without tools
    assert counter.runs == ["x"]
    assert answer.text == "Answer from the first result." and answer.stopped_early


def test_a_call_that_was_not_run_is_not_shown_as_a_success() -> None:
    """The terminal draws ✓ for a finished call without an error: a repeat never ran."""
    from ahora.events import ToolFinished

    counter = Counter()
    model = ScriptedChatModel(
        replies=[tool_calls(("lookup", {"query": "x"}), ("lookup", {"query": "x"})), "Done."]
    )
    events = list(Agent(model, [counter.tool()]).stream("go"))
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert len(finished) == 2
    called = [e for e in events if type(e).__name__ == "ToolCalled"]
    assert {e.call_id for e in finished} == {e.call_id for e in called}  # each answers its call
    [ran] = [e for e in finished if "Not run" not in e.preview]
    [repeat] = [e for e in finished if "Not run" in e.preview]
    assert ran.error is None and "facts about x" in ran.preview
    assert repeat.error and "Not run" in repeat.error
    assert "✗" in repeat._repr_markdown_() and "✓" in ran._repr_markdown_()
    [note] = repeat_notes(events[-1].answer.messages)
    assert note.status == "error"


def test_a_repeat_in_an_earlier_step_with_other_calls_between_is_caught() -> None:
    counter = Counter()
    model = ScriptedChatModel(
        replies=[
            tool_calls(("lookup", {"query": "a"}), ("lookup", {"query": "b"})),
            tool_calls(("lookup", {"query": "c"}), ("lookup", {"query": "a"})),
            "Done.",
        ]
    )
    answer = Agent(model, [counter.tool()]).ask("go")
    assert sorted(counter.runs) == ["a", "b", "c"]
    assert len(repeat_notes(answer.messages)) == 1 and answer.stopped_early


def test_calls_with_the_same_arguments_to_different_tools_both_run() -> None:
    counter = Counter()

    def other(query: str) -> str:
        """Another lookup."""
        counter.runs.append(f"other {query}")
        return f"other facts about {query}"

    model = ScriptedChatModel(
        replies=[tool_calls(("lookup", {"query": "x"}), ("other", {"query": "x"})), "Done."]
    )
    answer = Agent(model, [counter.tool(), other]).ask("go")
    assert sorted(counter.runs) == ["other x", "x"]  # parallel: any order
    assert repeat_notes(answer.messages) == [] and not answer.stopped_early


def test_fault_is_survived(tmp_path: Path) -> None:
    """A model that repeats itself lands with an answer."""
    assert_survived(FAULTS["repeats_itself"], tmp_path)


# --- which call is a repeat: by position in the run, whatever the ids ----------------

_TURN = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 2), st.sampled_from(["c0", "c1", "x"])),
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(_TURN, st.just("ask")), max_size=8),
    st.sampled_from(["a", "b"]),
    st.integers(0, 2),
    st.sampled_from(["c0", "c1", "x", "new"]),
)
def test_a_call_repeats_when_the_same_call_came_earlier_in_this_run(
    turns: list[Any], name: str, arg: int, call_id: str
) -> None:
    """Reference: this run's calls in order; the call asked about stands at its id's
    place in the latest reply that holds it (at the end when none does); it repeats
    when the same name and arguments come before that place. Ids are reused per reply,
    as some servers do. Asked after every new message, as the loop runs (the guard
    resumes from what it saw the step before)."""
    call = {"name": name, "args": {"v": arg}, "id": call_id, "type": "tool_call"}
    messages: list[BaseMessage] = [HumanMessage("q")]
    for turn in turns:
        if turn == "ask":
            messages = [*messages, HumanMessage("again")]
        else:
            calls = [{"name": n, "args": {"v": v}, "id": i} for n, v, i in turn]
            messages = [*messages, AIMessage("", tool_calls=calls)]
        request = SimpleNamespace(tool_call=call, state={"messages": messages})
        assert earlier_call(request) is _repeats(messages, call), messages


def _repeats(messages: list[BaseMessage], call: dict[str, Any]) -> bool:
    last_ask = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    run = messages[last_ask + 1 :]
    flat = [(t, c) for t, m in enumerate(run) for c in getattr(m, "tool_calls", [])]
    holders = [t for t, c in flat if c["id"] == call["id"]]
    if holders:
        last = max(holders)
        at = next(k for k, (t, c) in enumerate(flat) if t == last and c["id"] == call["id"])
    else:
        at = len(flat)
    return any(c["name"] == call["name"] and c["args"] == call["args"] for _, c in flat[:at])


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 2)
    | st.sampled_from([0.0, 1.0, 2.5])
    | st.text(max_size=2),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from("ab"), _JSON, max_size=2),
    st.dictionaries(st.sampled_from("ab"), _JSON, max_size=2),
)
def test_a_call_s_key_is_equal_exactly_when_the_calls_are_the_same(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    """The guard's kept keys agree with ``same_call`` (1 == 1.0 == True, key order)."""
    x, y = {"name": "t", "args": a}, {"name": "t", "args": b}
    assert (_key(x) == _key(y)) is same_call(x, y)
    if same_call(x, y):
        assert hash(_key(x)) == hash(_key(y))
    assert _key(x) == _key({"name": "t", "args": dict(reversed(list(a.items())))})
