"""Typed answers: ``ask(..., output=Type)`` gives validated data with its sources, on
the tool strategy (any tool-calling model) and the provider's native structured output
(the loopback OpenAI-compatible server honours ``response_format: json_schema``).
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, ToolMessage
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from ahora import Agent, Budget, build_agent
from ahora.errors import InvalidSettings
from ahora.schemas import load_schema, parse_concise
from ahora.settings import get_settings
from ahora.testing import ScriptedChatModel, tool_call
from ahora.testing.openai_server import OpenAIServer


class Forecast(BaseModel):
    """Tomorrow's weather in one place."""

    place: str
    max_c: float = Field(description="maximum temperature, °C")
    min_c: float
    rain: bool


class Sky(StrEnum):
    clear = "clear"
    cloudy = "cloudy"


class Day(BaseModel):
    date: str
    sky: Sky
    note: str | None = None


class Week(BaseModel):
    place: str
    days: list[Day]


class Money(TypedDict):
    amount: float
    currency: str


@dataclasses.dataclass
class Person:
    name: str
    age: int


class Yes(BaseModel):
    kind: Literal["yes"]
    why: str


class No(BaseModel):
    kind: Literal["no"]


GOOD = {"place": "Santiago", "max_c": 29.0, "min_c": 14.0, "rain": False}


def answered(*replies: Any) -> ScriptedChatModel:
    return ScriptedChatModel(replies=list(replies))


# -- the tool strategy ---------------------------------------------------------------------


def test_a_tool_using_run_ends_in_a_validated_value_with_its_sources() -> None:
    model = answered(tool_call("clock", {"timezone": "UTC"}), tool_call("Forecast", GOOD))
    answer = Agent(model, ["clock"]).ask("Weather tomorrow?", output=Forecast)
    assert answer.output == Forecast(**GOOD)
    assert answer.output_error is None and not answer.stopped_early
    assert [c["name"] for c in answer.tool_calls][:1] == ["clock"]
    assert answer.to_dict()["output"] == GOOD


def test_an_invalid_answer_goes_back_to_the_model_which_fixes_it() -> None:
    model = answered(tool_call("Forecast", {**GOOD, "max_c": "hot"}), tool_call("Forecast", GOOD))
    answer = Agent(model, []).ask("Weather?", output=Forecast)
    assert answer.output == Forecast(**GOOD)
    # The retry changed what was sent: the model saw the error about max_c.
    second = model.requests[1]
    errors = [m for m in second if isinstance(m, ToolMessage)]
    assert errors and "max_c" in str(errors[-1].content)
    assert answer.steps == 2


def test_a_model_that_never_validates_lands_stopped_early_with_the_error() -> None:
    bad = tool_call("Forecast", {"place": "Santiago"})
    model = ScriptedChatModel(replies=[bad] * 10)
    answer = Agent(model, [], budget=Budget(steps=3)).ask("Weather?", output=Forecast)
    assert answer.output is None
    assert answer.stopped_early
    assert answer.output_error and "max_c" in answer.output_error
    assert model.calls <= 3 + 2  # the step budget (and at most the in-step retries)
    # The conversation stays valid: every tool call has its answer.
    calls = {c["id"] for m in answer.messages if isinstance(m, AIMessage) for c in m.tool_calls}
    answered_ids = {m.tool_call_id for m in answer.messages if isinstance(m, ToolMessage)}
    assert calls <= answered_ids


def test_a_model_that_answers_in_prose_is_asked_again() -> None:
    model = answered("It will be 29 °C.", tool_call("Forecast", GOOD))
    answer = Agent(model, []).ask("Weather?", output=Forecast)
    assert answer.output == Forecast(**GOOD)
    assert "did not match" in str(model.requests[1][-1].content)


@pytest.mark.parametrize(
    ("output", "args", "expected"),
    [
        (
            Week,
            {"place": "Lima", "days": [{"date": "2026-12-04", "sky": "clear"}]},
            Week(place="Lima", days=[Day(date="2026-12-04", sky=Sky.clear)]),
        ),
        (Money, {"amount": 3.5, "currency": "EUR"}, {"amount": 3.5, "currency": "EUR"}),
        (Person, {"name": "Ada", "age": 36}, Person(name="Ada", age=36)),
    ],
)
def test_nested_models_lists_enums_optional_typeddict_dataclass(
    output: Any, args: dict[str, Any], expected: Any
) -> None:
    name = output.__name__
    answer = Agent(answered(tool_call(name, args)), []).ask("?", output=output)
    assert answer.output == expected


def test_a_union_takes_whichever_shape_the_model_chose() -> None:
    model = answered(tool_call("No", {"kind": "no"}))
    assert Agent(model, []).ask("?", output=Yes | No).output == No(kind="no")
    model = answered(tool_call("Yes", {"kind": "yes", "why": "sun"}))
    assert Agent(model, []).ask("?", output=Yes | No).output == Yes(kind="yes", why="sun")


def test_a_json_schema_dict_is_validated_too() -> None:
    schema = parse_concise("name, age int")
    model = answered(
        tool_call("answer", {"name": "Ada"}), tool_call("answer", {"name": "Ada", "age": 36})
    )
    answer = Agent(model, []).ask("?", output=schema)
    assert answer.output == {"name": "Ada", "age": 36}
    assert "age" in str(model.requests[1][-1].content)  # the error named the missing field


def test_the_agents_output_is_the_default_and_a_call_may_ask_for_another() -> None:
    model = answered(
        tool_call("Forecast", GOOD), tool_call("Person", {"name": "Ada", "age": 3}), "plain"
    )
    agent = Agent(model, [], output=Forecast)
    assert agent.ask("?", thread="t").output == Forecast(**GOOD)
    assert agent.ask("?", thread="t", output=Person).output == Person(name="Ada", age=3)
    plain = Agent(answered("just text"), [])
    assert plain.ask("?").output is None and plain.ask.__name__ == "ask"


def test_a_build_agent_graph_puts_the_value_in_the_state() -> None:
    graph = build_agent(answered(tool_call("Forecast", GOOD)), [], output=Forecast)
    state = graph.invoke({"messages": [("user", "?")]})
    assert state["structured_response"] == Forecast(**GOOD)


@pytest.mark.parametrize("bad", [int, "Forecast", {"type": "nonsense"}, 3])
def test_an_unusable_output_type_is_refused_with_a_clear_message(bad: Any) -> None:
    with pytest.raises(InvalidSettings, match="output"):
        Agent(answered("x"), [], output=bad)


def test_a_typing_typeddict_on_python_3_11_is_refused_with_pydantics_reason() -> None:
    import sys
    import typing

    class Old(typing.TypedDict):
        x: int

    if sys.version_info >= (3, 12):
        pytest.skip("typing.TypedDict works with pydantic from Python 3.12")
    with pytest.raises(InvalidSettings, match="typing_extensions"):
        Agent(answered("x"), [], output=Old)


def test_the_provider_strategy_refuses_a_union() -> None:
    with pytest.raises(InvalidSettings, match="union"):
        Agent(answered("x"), [], output=Yes | No, output_strategy="provider")


async def test_async_asks_get_typed_answers() -> None:
    answer = await Agent(answered(tool_call("Forecast", GOOD)), []).aask("?", output=Forecast)
    assert answer.output == Forecast(**GOOD)


def test_streaming_ends_with_the_typed_answer() -> None:
    from ahora.events import Finished

    events = list(Agent(answered(tool_call("Forecast", GOOD)), []).stream("?", output=Forecast))
    final = events[-1]
    assert isinstance(final, Finished) and final.answer.output == Forecast(**GOOD)


# -- the provider's native structured output, over HTTP --------------------------------------


def openai_agent(server: OpenAIServer, **kw: Any) -> Agent:
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="test-model", api_key="test", base_url=server.base_url, max_retries=0)  # type: ignore[arg-type]
    return Agent(model, [], **kw)


def test_native_structured_output_is_asked_for_and_parsed() -> None:
    with OpenAIServer(script=[{"json": GOOD}]) as server:
        answer = openai_agent(server, output_strategy="provider").ask("?", output=Forecast)
        fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert set(fmt["json_schema"]["schema"]["properties"]) == set(GOOD)
    assert answer.output == Forecast(**GOOD)


def test_native_output_that_does_not_parse_is_retried_in_the_same_step() -> None:
    script = ["{not json", json.dumps({**GOOD, "rain": "maybe"}), {"json": GOOD}]
    with OpenAIServer(script=script) as server:
        answer = openai_agent(server, output_strategy="provider").ask("?", output=Forecast)
        sent = [r["messages"] for r in server.requests]
    assert answer.output == Forecast(**GOOD)
    assert len(sent) == 3
    assert "did not match" in sent[1][-1]["content"] and sent[1][-2]["content"] == "{not json"
    assert "rain" in sent[2][-1]["content"]  # each retry carries its own error
    assert answer.steps == 3  # the retries count against the budget
    assert answer.usage["input_tokens"] > 0


def test_native_output_that_never_parses_lands_with_the_raw_reply() -> None:
    with OpenAIServer(script=[], fallback="still not json") as server:
        agent = openai_agent(server, output_strategy="provider", budget=Budget(steps=2))
        answer = agent.ask("?", output=Forecast)
    assert answer.output is None and answer.stopped_early
    assert answer.text == "still not json"
    assert answer.output_error


def test_the_test_server_refuses_a_scripted_value_outside_the_schema() -> None:
    with OpenAIServer(script=[{"json": {"place": 3}}]) as server:
        agent = openai_agent(server, output_strategy="provider")
        with pytest.raises(Exception, match="HTTP 500"):
            agent.ask("?", output=Forecast)
        assert server.calls == 1  # refused at the server, before any reply


# -- the concise schema syntax ---------------------------------------------------------------

names = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)
kinds = st.sampled_from(["", " str", " int", " float", " bool"])
descriptions = st.one_of(
    st.just(""),
    st.text(
        st.characters(blacklist_categories=["Cc", "Cs"], blacklist_characters=",:\n"), max_size=20
    ).map(lambda t: ": " + t),
)
fields = st.lists(
    st.tuples(names, kinds, descriptions), min_size=1, max_size=6, unique_by=lambda f: f[0]
)
SAMPLE = {"string": "x", "integer": 3, "number": 2.5, "boolean": True}


@settings(max_examples=150, deadline=None)
@given(fields, st.booleans())
def test_any_concise_schema_parses_to_a_schema_that_validates(
    spec: list[tuple[str, str, str]], newlines: bool
) -> None:
    from jsonschema import Draft202012Validator

    text = ("\n" if newlines else ", ").join(f"{n}{k}{d}" for n, k, d in spec)
    schema = parse_concise(text)
    Draft202012Validator.check_schema(schema)
    assert list(schema["properties"]) == [n for n, _, _ in spec]
    value = {n: SAMPLE[p["type"]] for n, p in schema["properties"].items()}
    assert not list(Draft202012Validator(schema).iter_errors(value))
    missing = dict(list(value.items())[1:])
    assert list(Draft202012Validator(schema).iter_errors(missing))  # every field required


def test_the_concise_syntax_reads_like_llms() -> None:
    schema = parse_concise("name, age int, bio: a short biography")
    assert schema["properties"] == {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "bio": {"type": "string", "description": "a short biography"},
    }


@pytest.mark.parametrize("bad", ["", " , ", "name list", "1name", "a, a", "na me"])
def test_a_bad_concise_schema_is_named(bad: str) -> None:
    with pytest.raises(InvalidSettings):
        parse_concise(bad)


def test_a_schema_can_be_a_file_or_a_class(tmp_path: Any) -> None:
    (tmp_path / "s.json").write_text(json.dumps(parse_concise("x int")))
    assert load_schema("s.json", base=tmp_path)["properties"] == {"x": {"type": "integer"}}
    assert load_schema("tests.test_typed_answers:Forecast") is Forecast
    (tmp_path / "bad.json").write_text('{"type": 3}')
    with pytest.raises(InvalidSettings, match="not a valid JSON schema"):
        load_schema(str(tmp_path / "bad.json"))
    with pytest.raises(InvalidSettings, match="cannot import"):
        load_schema("tests.nowhere:Thing")


# -- streaming: the value as it is written ----------------------------------------------------


@pytest.mark.parametrize("strategy", ["tool", "provider"])
def test_partial_values_grow_as_the_model_writes(strategy: str) -> None:
    from ahora.events import Finished, PartialOutput

    week = {
        "place": "Valparaíso",
        "days": [{"date": f"2026-12-0{i}", "sky": "clear", "note": "windy"} for i in range(1, 5)],
    }
    reply: Any = (
        {"tool_calls": [{"name": "Week", "arguments": week}]}
        if strategy == "tool"
        else {"json": week}
    )
    with OpenAIServer(script=[reply]) as server:
        agent = openai_agent(server, output_strategy=strategy)  # type: ignore[arg-type]
        events = list(agent.stream("?", output=Week))
    partials = [e.value for e in events if isinstance(e, PartialOutput)]
    assert len(partials) >= 3  # several, as the JSON arrived piece by piece
    sizes = [len(jsonable_days(p)) for p in partials]
    assert sizes == sorted(sizes) and sizes[-1] == 4  # the table fills, never shrinks
    assert any(isinstance(p, Week) for p in partials)  # validated as far as it goes
    final = events[-1]
    assert isinstance(final, Finished) and final.answer.output == Week(**week)


def jsonable_days(value: Any) -> list[Any]:
    days = value.days if isinstance(value, Week) else (value or {}).get("days") or []
    return list(days)


async def test_async_streaming_gives_partials_too() -> None:
    from ahora.events import PartialOutput

    with OpenAIServer(script=[{"tool_calls": [{"name": "Forecast", "arguments": GOOD}]}]) as server:
        agent = openai_agent(server)
        events = [e async for e in agent.astream("?", output=Forecast)]
    assert any(isinstance(e, PartialOutput) for e in events)
    assert events[-1].answer.output == Forecast(**GOOD)  # type: ignore[union-attr]


# -- provenance per field ---------------------------------------------------------------------


def test_sourced_fields_must_cite_a_page_the_run_fetched() -> None:
    from langchain_core.tools import tool

    from ahora import Sourced
    from ahora.messages import source

    page = "https://rates.example/today"

    @tool(response_format="content_and_artifact")
    def rates() -> tuple[str, dict[str, Any]]:
        """Today's exchange rates."""
        return "USD/EUR 0.92", {"sources": [source(page, "Rates today")]}

    class Rates(BaseModel):
        usd_eur: Sourced[float]

    invented = {"usd_eur": {"value": 0.92, "source": "https://made.up/rates"}}
    model = answered(
        tool_call("rates", {}),
        tool_call("Rates", invented),
        tool_call("Rates", {"usd_eur": {"value": 0.92, "source": page}}),
    )
    answer = Agent(model, [rates]).ask("Dollar in euros?", output=Rates)
    assert answer.output is not None and answer.output.usd_eur.value == 0.92
    cited = answer.source(answer.output.usd_eur.source)
    assert cited is not None and cited["fetched_at"] and cited["title"] == "Rates today"
    # The invented URL went back to the model as an error naming the real one.
    retry = str(model.requests[2][-1].content)
    assert "made.up" in retry and page in retry


# -- a profile as a reusable extractor ----------------------------------------------------------

EXTRACTOR = """
name = "extractor"
description = "Pulls a person out of text."
instructions = "Extract the person."
tools = []
output = {output}
"""


def test_a_profile_names_its_answer_shape(tmp_path: Any) -> None:
    path = tmp_path / "extractor.toml"
    path.write_text(EXTRACTOR.format(output='"name, age int: in years"'))
    model = answered(tool_call("answer", {"name": "Ada", "age": 36}))
    answer = Agent(model, profile=str(path)).ask("Ada Lovelace was 36.")
    assert answer.output == {"name": "Ada", "age": 36}


def test_a_profile_schema_can_be_a_json_file_beside_it_or_a_table(tmp_path: Any) -> None:
    from ahora.profiles import load_profile

    (tmp_path / "person.json").write_text(json.dumps(parse_concise("name")))
    path = tmp_path / "extractor.toml"
    path.write_text(EXTRACTOR.format(output='"person.json"'))
    assert load_profile(str(path), settings=get_settings()).output == parse_concise("name")
    path.write_text(
        EXTRACTOR.format(output='{ type = "object", properties = { x = { type = "integer" } } }')
    )
    assert load_profile(str(path), settings=get_settings()).output == {
        "type": "object",
        "properties": {"x": {"type": "integer"}},
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"os:system"', "cannot name a Python class"),
        ('"missing.json"', "cannot read the schema file"),
        ('"age list"', "type 'list'"),
        ("3", "must be a schema"),
        ("{ type = 3 }", "not a valid JSON schema"),
    ],
)
def test_a_bad_profile_schema_names_the_file_and_the_key(
    tmp_path: Any, value: str, message: str
) -> None:
    from ahora.errors import InvalidProfile
    from ahora.profiles import load_profile

    path = tmp_path / "extractor.toml"
    path.write_text(EXTRACTOR.format(output=value))
    with pytest.raises(InvalidProfile) as caught:
        load_profile(str(path), settings=get_settings())
    assert "output" in str(caught.value) and message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_typed_answer_exports_with_its_output_tool_declared(tmp_path: Any) -> None:
    import io

    from langgraph.checkpoint.memory import InMemorySaver

    from ahora.export import export_threads

    saver = InMemorySaver()
    model = answered(tool_call("clock", {"timezone": "UTC"}), tool_call("Forecast", GOOD))
    Agent(model, ["clock"], checkpointer=saver).ask("Weather?", thread="t", output=Forecast)
    out = io.StringIO()
    skipped: list[str] = []
    assert (
        export_threads(saver, ["t"], out, secrets=[], on_skip=lambda t, r: skipped.append(r)) == 1
    ), skipped
    line = json.loads(out.getvalue())
    names = {t["function"]["name"] for t in line["tools"]}
    assert names == {"clock", "Forecast"}
    last_call = [m for m in line["messages"] if m.get("tool_calls")][-1]["tool_calls"][0]
    assert last_call["function"]["name"] == "Forecast"
    assert json.loads(last_call["function"]["arguments"]) == GOOD  # as the model produced it
    # The thread keeps the schema the answer was asked for, with the turn.
    from ahora.messages import OUTPUT_SCHEMA

    saved = Agent(answered("x"), [], checkpointer=saver).messages("t")
    last = [m for m in saved if isinstance(m, AIMessage)][-1]
    assert set(last.response_metadata[OUTPUT_SCHEMA]["properties"]) == set(GOOD)
