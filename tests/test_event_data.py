"""Events as JSON data and back (how a sub-agent's events cross LangGraph's ``custom``
stream, in process and through the server): every event survives the round trip, and
anything else in the stream is ignored, never an error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ahora.events import (
    ApprovalRequested,
    PartialOutput,
    StepStarted,
    SubagentEvent,
    Token,
    ToolCalled,
    ToolFinished,
    UsageReported,
    event_data,
    event_from_data,
)

text = st.text(max_size=40)
plain_json = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
args = st.dictionaries(text, plain_json, max_size=4)
sources = st.lists(
    st.fixed_dictionaries({"url": text, "title": text, "fetched_at": text}), max_size=3
)
plain_events = st.one_of(
    st.builds(StepStarted, st.integers(min_value=1, max_value=10_000)),
    st.builds(Token, text),
    st.builds(ToolCalled, text, text, args),
    st.builds(
        ToolFinished,
        text,
        text,
        text,
        st.none() | text,
        sources,
        st.floats(min_value=0, max_value=1e6, allow_nan=False),
    ),
    st.builds(UsageReported, st.integers(min_value=0), st.integers(min_value=0)),
    st.builds(ApprovalRequested, text, text, args),
    st.builds(PartialOutput, plain_json),
)
events = st.recursive(
    plain_events, lambda inner: st.builds(SubagentEvent, text, text, inner), max_leaves=4
)


@given(events)
def test_every_event_survives_json_and_back(event: Any) -> None:
    data = json.loads(json.dumps(event_data(event)))
    assert event_from_data(data) == event


@given(plain_json)
def test_anything_else_in_the_stream_is_ignored(data: Any) -> None:
    made = event_from_data(data)
    assert made is None or type(made).__name__ in {
        "StepStarted",
        "Token",
        "ToolCalled",
        "ToolFinished",
        "UsageReported",
        "ApprovalRequested",
        "PartialOutput",
        "SubagentEvent",
    }


def test_a_malformed_event_is_ignored_not_raised() -> None:
    assert event_from_data({"type": "ToolCalled", "call_id": "c"}) is None  # fields missing
    assert event_from_data({"type": "Finished", "answer": {}}) is None
    assert event_from_data({"type": "SubagentEvent", "agent": "a", "event": 3}) is None
