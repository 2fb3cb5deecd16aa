"""Budgets per run land gracefully: model calls, tokens and wall-clock time.

At a limit the next model call is made without tools and told to answer from what it
has and to say what is missing; the caller gets that partial answer with
``stopped_early`` and can continue the same thread. No limit ever raises. (A cost
budget is not implemented: token counts are the only spend ahora tracks.)
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage

from ahora import Agent
from ahora.errors import InvalidSettings
from ahora.events import Finished
from ahora.testing import ScriptedChatModel, tool_call


def echo(text: str) -> str:
    """Repeat the text back."""
    return f"echo: {text}"


def nap(label: str) -> str:
    """Wait a little, then report."""
    time.sleep(0.3)
    return f"{label} rested"


class Recorder:
    """Model replies that call ``echo`` with fresh arguments until tools are taken away."""

    def __init__(
        self, final: str = "Partial answer: found {n} things; the rest is missing."
    ) -> None:
        self.final = final
        self.tool_counts: list[int] = []
        self.systems: list[str] = []

    def __call__(self, messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        self.tool_counts.append(len(tools))
        self.systems.append(
            str(messages[0].content) if isinstance(messages[0], SystemMessage) else ""
        )
        if tools:
            return tool_call("echo", {"text": f"item {len(self.tool_counts)}"})
        found = sum(isinstance(m, ToolMessage) for m in messages)
        return self.final.format(n=found)


def looping_model(recorder: Recorder, n: int = 30) -> ScriptedChatModel:
    return ScriptedChatModel(replies=[recorder] * n)


def with_usage(message: AIMessage, tokens: int) -> AIMessage:
    return message.model_copy(
        update={
            "usage_metadata": {"input_tokens": tokens, "output_tokens": 0, "total_tokens": tokens}
        }
    )


# --- steps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("max_steps", [1, 2, 5])
def test_step_budget_lands_with_a_partial_answer(max_steps: int) -> None:
    rec = Recorder()
    answer = Agent(looping_model(rec), [echo], max_steps=max_steps).ask("find everything")
    assert answer.stopped_early
    assert answer.steps == max_steps
    assert answer.text == f"Partial answer: found {max_steps - 1} things; the rest is missing."
    # every call but the last offered tools; the last was told why and what to say
    assert rec.tool_counts == [1] * (max_steps - 1) + [0]
    assert "step budget of" in rec.systems[-1]
    assert "what is still missing" in rec.systems[-1]
    assert all("STOP" not in s for s in rec.systems[:-1])


def test_a_model_that_calls_tools_on_its_last_turn_still_lands() -> None:
    """Tools are unbound on the last call; a model that calls one anyway is overruled."""
    replies = [tool_call("echo", {"text": str(i)}) for i in range(5)]
    answer = Agent(ScriptedChatModel(replies=replies), [echo], max_steps=3).ask("loop")
    assert answer.stopped_early
    assert "stopped early" in answer.text and "step budget" in answer.text
    assert len(answer.tool_calls) == 2  # the third call was stripped, not run
    assert not answer.messages[-1].tool_calls


def test_budget_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_MAX_STEPS", "2")
    rec = Recorder()
    answer = Agent(looping_model(rec), [echo]).ask("go")
    assert answer.stopped_early and answer.steps == 2


def test_answer_within_budget_is_not_stopped_early() -> None:
    model = ScriptedChatModel(replies=[tool_call("echo", {"text": "a"}), "Complete."])
    answer = Agent(model, [echo], max_steps=3).ask("go")
    assert answer.text == "Complete." and not answer.stopped_early


# --- tokens --------------------------------------------------------------------------------


def test_token_budget_lands_once_spent() -> None:
    rec = Recorder()

    def costly(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        reply = rec(messages, tools)
        return with_usage(reply, 400) if isinstance(reply, AIMessage) else reply

    agent = Agent(ScriptedChatModel(replies=[costly] * 10), [echo], max_tokens=1000)
    answer = agent.ask("go")
    assert answer.stopped_early
    assert rec.tool_counts == [1, 1, 1, 0]  # 3 x 400 tokens >= 1000: the 4th call lands
    assert "token budget of 1,000 tokens" in rec.systems[-1]


def test_token_budget_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_MAX_TOKENS", "1")
    rec = Recorder()
    answer = Agent(looping_model(rec), [echo]).ask("go")
    assert answer.stopped_early and rec.tool_counts == [1, 0]


# --- wall-clock time -----------------------------------------------------------------------


def test_deadline_lands_after_the_step_in_flight() -> None:
    rec = Recorder()

    def napping(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        reply = rec(messages, tools)
        return tool_call("nap", {"label": "x"}) if isinstance(reply, AIMessage) else reply

    agent = Agent(ScriptedChatModel(replies=[napping] * 10), [nap], timeout=0.2)
    answer = agent.ask("go")
    assert answer.stopped_early
    assert rec.tool_counts == [1, 0]
    assert "time limit" in rec.systems[-1]


def test_deadline_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_TIMEOUT", "0.2")
    rec = Recorder()

    def napping(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        reply = rec(messages, tools)
        return tool_call("nap", {"label": "x"}) if isinstance(reply, AIMessage) else reply

    answer = Agent(ScriptedChatModel(replies=[napping] * 10), [nap]).ask("go")
    assert answer.stopped_early and rec.tool_counts == [1, 0]


async def test_deadline_async_and_streaming() -> None:
    rec = Recorder()

    def napping(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        reply = rec(messages, tools)
        return tool_call("nap", {"label": "x"}) if isinstance(reply, AIMessage) else reply

    agent = Agent(ScriptedChatModel(replies=[napping] * 10), [nap], timeout=0.2)
    assert (await agent.aask("go")).stopped_early
    events = [e async for e in agent.astream("again")]
    assert isinstance(events[-1], Finished) and events[-1].answer.stopped_early


@pytest.mark.parametrize(
    "kwargs", [{"max_steps": 0}, {"max_tokens": 0}, {"timeout": 0}, {"timeout": -1.0}]
)
def test_nonsense_limits_are_refused_up_front(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidSettings):
        Agent(ScriptedChatModel(replies=[]), [echo], **kwargs)


# --- embedded: the work survives and the thread goes on ------------------------------------


def test_stopped_early_is_in_the_json_shape_and_the_stream() -> None:
    agent = Agent(looping_model(Recorder()), [echo], max_steps=2)
    assert agent.ask("go").to_dict()["stopped_early"] is True
    events = list(agent.stream("again"))
    assert isinstance(events[-1], Finished) and events[-1].answer.stopped_early


def test_follow_up_on_the_same_thread_sees_the_earlier_work() -> None:
    rec = Recorder()
    model = ScriptedChatModel(replies=[rec, rec, "Carried on from item 1."])
    agent = Agent(model, [echo], max_steps=2)
    first = agent.ask("find everything")
    assert first.stopped_early
    second = agent.ask("go on", thread=first.thread_id)
    assert second.text == "Carried on from item 1."
    assert not second.stopped_early  # a new turn has a fresh budget
    seen = model.requests[-1]
    assert any(isinstance(m, ToolMessage) and "echo: item 1" in str(m.content) for m in seen)
    assert any(isinstance(m, AIMessage) and m.text.startswith("Partial answer") for m in seen)


# --- edges ---------------------------------------------------------------------------------


def test_a_malformed_call_on_the_last_turn_does_not_get_past_the_step_budget() -> None:
    from ahora.testing import invalid_tool_call

    model = ScriptedChatModel(replies=[invalid_tool_call("echo", '{"text": ')] * 6)
    answer = Agent(model, [echo], max_steps=2).ask("go")
    assert model.calls == 2
    assert answer.steps == 2 and answer.stopped_early
    assert not answer.messages[-1].tool_calls and not answer.messages[-1].invalid_tool_calls


def test_the_token_budget_hit_exactly_lands() -> None:
    rec = Recorder()

    def costly(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        reply = rec(messages, tools)
        return with_usage(reply, 500) if isinstance(reply, AIMessage) else reply

    answer = Agent(ScriptedChatModel(replies=[costly] * 10), [echo], max_tokens=1000).ask("go")
    assert rec.tool_counts == [1, 1, 0]  # 2 x 500 = 1,000 tokens: used up, not exceeded
    assert answer.stop_reason == "the token budget of 1,000 tokens is used up"


def test_the_cost_budget_hit_exactly_lands() -> None:
    def call(i: int) -> AIMessage:
        return tool_call("echo", {"text": f"q{i}"}).model_copy(
            update={
                "usage_metadata": {
                    "input_tokens": 100_000,  # $0.04 each at gpt-4.1-mini's $0.40 per 1M
                    "output_tokens": 0,
                    "total_tokens": 100_000,
                }
            }
        )

    model = ScriptedChatModel(replies=[call(i) for i in range(5)], model_name="gpt-4.1-mini")
    answer = Agent(model, [echo], max_cost=0.08).ask("dig")
    assert model.calls == 3  # $0.08 after two calls: the third is the last
    assert answer.stop_reason == "the cost budget of $0.08 is used up"


def test_a_step_with_one_new_result_and_one_repeat_is_not_stale() -> None:
    from ahora.testing import tool_calls

    def same(text: str) -> str:
        """Always the same result."""
        return "nothing new"

    pairs = [(("echo", {"text": f"n{i}"}), ("same", {"text": f"s{i}"})) for i in range(5)]
    replies = [tool_calls(*pair) for pair in pairs]
    model = ScriptedChatModel(replies=[*replies, "Done."])
    answer = Agent(model, [echo, same], max_steps=10).ask("go")
    assert answer.text == "Done." and not answer.stopped_early
    assert model.calls == 6


def test_an_agent_without_tools_at_one_step_is_not_stopped_early() -> None:
    model = ScriptedChatModel(replies=["Hello."])
    answer = Agent(model, [], max_steps=1).ask("hi")
    assert answer.text == "Hello." and not answer.stopped_early and answer.stop_reason is None


def test_the_last_turn_keeps_the_instructions_and_adds_the_stop_note() -> None:
    rec = Recorder()
    Agent(looping_model(rec), [echo], max_steps=2, instructions="Answer like a pirate.").ask("go")
    assert "Answer like a pirate." in rec.systems[-1]
    assert "STOP: the step budget of 2 model calls is used up" in rec.systems[-1]
    assert "STOP" not in rec.systems[0]


async def test_the_step_budget_on_the_async_path() -> None:
    rec = Recorder()
    answer = await Agent(looping_model(rec), [echo], max_steps=3).aask("find everything")
    assert answer.stopped_early and answer.steps == 3
    assert rec.tool_counts == [1, 1, 0]
    assert answer.text == "Partial answer: found 2 things; the rest is missing."


async def test_an_answer_within_budget_on_the_async_path() -> None:
    model = ScriptedChatModel(replies=[tool_call("echo", {"text": "a"}), "Complete."])
    answer = await Agent(model, [echo], max_steps=3).aask("go")
    assert answer.text == "Complete." and not answer.stopped_early


def test_tokens_are_input_plus_output_when_the_total_is_not_reported() -> None:
    rec = Recorder()

    def costly(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        reply = rec(messages, tools)
        if not isinstance(reply, AIMessage):
            return reply
        usage = {"input_tokens": 300, "output_tokens": 300, "total_tokens": 0}
        return reply.model_copy(update={"usage_metadata": usage})

    answer = Agent(ScriptedChatModel(replies=[costly] * 10), [echo], max_tokens=1000).ask("go")
    assert rec.tool_counts == [1, 1, 0]  # 600, then 1,200 >= 1,000
    assert answer.stop_reason == "the token budget of 1,000 tokens is used up"


def test_a_stopped_answer_without_text_says_why() -> None:
    """A last turn that only calls a tool (no text) gets a plain explanation, not ''."""
    replies = [tool_call("echo", {"text": str(i)}) for i in range(3)]
    answer = Agent(ScriptedChatModel(replies=replies), [echo], max_steps=2).ask("loop")
    assert answer.text == (
        "I stopped early (the step budget of 2 model calls is used up) before reaching a "
        "complete answer."
    )
    assert answer.stop_reason == "the step budget of 2 model calls is used up"


def test_the_providers_total_is_used_when_it_reports_one() -> None:
    """Some providers count more than input + output (reasoning, cache): trust the total."""
    rec = Recorder()

    def costly(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        reply = rec(messages, tools)
        if not isinstance(reply, AIMessage):
            return reply
        usage = {"input_tokens": 100, "output_tokens": 100, "total_tokens": 600}
        return reply.model_copy(update={"usage_metadata": usage})

    Agent(ScriptedChatModel(replies=[costly] * 10), [echo], max_tokens=1000).ask("go")
    assert rec.tool_counts == [1, 1, 0]  # 600, 1,200: not 200, 400, ...


def test_the_cost_of_each_call_is_priced_by_the_model_that_answered_it() -> None:
    """A fallback model may answer: each reply's own model name sets its price."""

    def call(i: int) -> AIMessage:
        return AIMessage(
            content="",
            tool_calls=[{"name": "echo", "args": {"text": f"{i}"}, "id": f"c{i}"}],
            usage_metadata={"input_tokens": 100_000, "output_tokens": 0, "total_tokens": 100_000},
            response_metadata={"model_name": "gpt-4.1-mini"},  # $0.04 a call
        )

    model = ScriptedChatModel(replies=[call(i) for i in range(5)], model_name="unpriced-model")
    answer = Agent(model, [echo], max_cost=0.05).ask("dig")
    assert model.calls == 3
    assert answer.stop_reason == "the cost budget of $0.05 is used up"


def test_a_call_of_unknown_cost_then_a_priced_one_keeps_the_cost_unknown() -> None:
    from langchain_core.messages import HumanMessage

    from ahora.events import answer_from_messages

    silent = AIMessage(content="", tool_calls=[{"name": "echo", "args": {}, "id": "1"}])
    priced = AIMessage(
        content="Done.",
        usage_metadata={"input_tokens": 1000, "output_tokens": 0, "total_tokens": 1000},
    )
    run = [HumanMessage("q"), silent, ToolMessage("x", tool_call_id="1"), priced]
    answer = answer_from_messages(run, thread_id=None, model="gpt-4.1-mini", seconds=0.0)
    assert answer.cost_usd is None  # unknown stays unknown, and nothing crashes


def test_a_tool_with_sources_is_not_mistaken_for_a_repeat() -> None:
    from langchain_core.tools import tool

    @tool(response_format="content_and_artifact")
    def page(url: str) -> tuple[str, dict[str, Any]]:
        """Read a page."""
        return f"text of {url}", {"sources": [{"url": url, "title": url}]}

    replies = [tool_call("page", {"url": f"https://e.example/{i}"}) for i in range(3)]
    answer = Agent(ScriptedChatModel(replies=[*replies, "Read three."]), [page]).ask("read")
    assert answer.text == "Read three." and not answer.stopped_early
    assert len(answer.sources) == 3


def test_text_written_with_a_last_turn_tool_call_is_kept() -> None:
    replies = [
        tool_call("echo", {"text": "1"}),
        tool_call("echo", {"text": "2"}, content="Partial: one item found."),
    ]
    answer = Agent(ScriptedChatModel(replies=replies), [echo], max_steps=2).ask("go")
    assert answer.text == "Partial: one item found." and answer.stopped_early


def test_a_second_turn_with_parallel_calls_counts_only_its_own_steps() -> None:
    """The run starts after the user's last message, wherever it sits in the history."""
    offered: list[int] = []

    def final(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> str:
        offered.append(len(tools))
        return "Second answer."

    from ahora.testing import tool_calls

    model = ScriptedChatModel(
        replies=[
            tool_call("echo", {"text": "a"}),
            tool_call("echo", {"text": "b"}),
            "First answer.",
            tool_calls(("echo", {"text": "c"}), ("echo", {"text": "d"})),
            final,
        ]
    )
    agent = Agent(model, [echo], max_steps=4)
    first = agent.ask("one")
    second = agent.ask("two", thread=first.thread_id)
    assert second.text == "Second answer." and not second.stopped_early
    assert offered == [1]  # the second call of turn two still had its tools


def test_the_budget_on_its_own_without_a_system_prompt() -> None:
    """The middleware is public: without a system prompt, the stop note stands alone."""
    from langchain.agents import create_agent as lc_create_agent

    from ahora.middleware import BudgetMiddleware

    rec = Recorder()
    graph = lc_create_agent(looping_model(rec), [echo], middleware=[BudgetMiddleware(2)])
    graph.invoke({"messages": [("user", "go")]})
    assert rec.systems[-1].startswith("\n\nSTOP: the step budget of 2 model calls is used up")


def test_a_real_client_calling_a_tool_on_its_last_turn_is_overruled() -> None:
    """OpenAI's client also keeps the raw calls in additional_kwargs: they must go too."""
    from langchain_openai import ChatOpenAI

    from ahora.testing.openai_server import OpenAIServer

    runs: list[str] = []

    def note(text: str) -> str:
        """Write a note."""
        runs.append(text)
        return "noted"

    call = {"tool_calls": [{"name": "note", "arguments": {"text": "x"}}]}
    with OpenAIServer(script=[], fallback=call) as srv:
        model = ChatOpenAI(model="m", api_key="k", base_url=srv.base_url, max_retries=0)  # type: ignore[arg-type]
        answer = Agent(model, [note], max_steps=2).ask("go")
        assert srv.calls == 2 and "tools" not in srv.requests[-1]
    assert runs == ["x"]
    assert answer.stopped_early and not answer.messages[-1].tool_calls
    assert "tool_calls" not in answer.messages[-1].additional_kwargs
