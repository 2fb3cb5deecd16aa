"""The model's view of a thread fits its window; the thread itself keeps everything."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from ahora import Agent
from ahora.errors import ContextWindowExceeded, InvalidSettings
from ahora.middleware.context_window import (
    CONTEXT_KEY,
    Memo,
    context_window,
    digest_line,
    is_context_overflow,
    shorten,
    stub,
)
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel
from ahora.testing.openai_server import OpenAIServer, prompt_tokens

PAGE = "Lorem ipsum dolor sit amet. " * 110  # ~3,000 characters


@tool(response_format="content_and_artifact")
def fetch_page(url: str) -> tuple[str, dict[str, Any]]:
    """Fetch a page.

    Args:
        url: The page's address.
    """
    return PAGE, {"sources": [{"url": url, "title": "A page"}]}


def _last_user(body: dict[str, Any]) -> str:
    return next(str(m["content"]) for m in reversed(body["messages"]) if m["role"] == "user")


def research_rule(body: dict[str, Any]) -> Any:
    """Fetch the page the question names, then answer at some length."""
    if body["messages"][-1]["role"] == "tool":
        return "Here is what the page says. " + "It says a great deal. " * 15
    n = re.search(r"#(\d+)", _last_user(body))
    url = f"https://example.com/page{n[1] if n else 0}"
    return {"tool_calls": [{"name": "fetch_page", "arguments": {"url": url}}]}


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(rule=research_rule, context_window=3_000) as srv:
        yield srv


def openai_agent(srv: OpenAIServer, **models: Any) -> Agent:
    model = ChatOpenAI(
        model="test-model",
        api_key="test",  # type: ignore[arg-type]
        base_url=srv.base_url,
        max_retries=0,
        stream_usage=True,
    )
    return Agent(model, [fetch_page], settings=Settings.load({}, models=models))


def refused(srv: OpenAIServer) -> list[int]:
    """Indexes of the requests the server refused as too long."""
    window = srv.context_window or 0
    return [i for i, body in enumerate(srv.requests) if prompt_tokens(body) > window]


def thread_messages(agent: Agent, thread: str) -> list[Any]:
    state = agent.graph.get_state({"configurable": {"thread_id": thread}})
    return list(state.values["messages"])


# --- knowing the window --------------------------------------------------------------


def test_the_window_comes_from_the_config_table_then_the_models_profile() -> None:
    known = ChatOpenAI(model="gpt-4o-mini", api_key="x")  # type: ignore[arg-type]
    local = ChatOpenAI(model="my-local", api_key="x")  # type: ignore[arg-type]
    assert context_window(known) == 128_000  # LangChain's model profile
    assert context_window(local) is None
    table = {"openai:my-local": {"context_window": 32_768}, "gpt-4o-mini": {"context_window": 8}}
    assert context_window(local, table) == 32_768
    assert context_window(known, table) == 8  # the config wins


def test_the_config_file_table_reaches_the_settings(tmp_path: Any) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[models."openai:my-local"]\ncontext_window = 32768\n', encoding="utf-8")
    settings = Settings.load({}, config_file=config)
    assert settings.models == {"openai:my-local": {"context_window": 32768}}


@pytest.mark.parametrize("bad", ["32k", 0, -5, 1.5, True])
def test_a_bad_context_window_in_the_config_is_refused_clearly(bad: object) -> None:
    with pytest.raises(InvalidSettings, match=r'models."openai:my-local".context_window'):
        Agent(
            ScriptedChatModel(),
            [fetch_page],
            settings=Settings.load({}, models={"openai:my-local": {"context_window": bad}}),
        )


# --- recognising a provider's refusal ------------------------------------------------


class _ProviderError(Exception):
    pass


@pytest.mark.parametrize(
    "message",
    [
        "Error code: 400 - This model's maximum context length is 8192 tokens. However, "
        "your messages resulted in 9000 tokens.",
        "prompt is too long: 210000 tokens > 200000 maximum",  # Anthropic
        "the input length exceeds the context length",  # Ollama
        "the request exceeds the available context size, try increasing it",  # llama.cpp
    ],
)
def test_context_errors_are_recognised(message: str) -> None:
    assert is_context_overflow(_ProviderError(message))


@pytest.mark.parametrize("message", ["Error code: 400 - invalid tool schema", "rate limited"])
def test_other_errors_are_not(message: str) -> None:
    assert not is_context_overflow(_ProviderError(message))


# --- stubs and the digest keep the sources -------------------------------------------


def _turn(n: int) -> list[Any]:
    call = {"name": "fetch_page", "args": {"url": f"https://example.com/page{n}"}, "id": f"c{n}"}
    return [
        HumanMessage(f"What does page #{n} say?", id=f"h{n}"),
        AIMessage("", tool_calls=[call], id=f"a{n}"),
        ToolMessage(
            PAGE,
            tool_call_id=f"c{n}",
            name="fetch_page",
            id=f"t{n}",
            artifact={"sources": [{"url": f"https://example.com/page{n}", "title": "t"}]},
        ),
        AIMessage(f"Page {n} says lorem ipsum.", id=f"b{n}"),
    ]


def test_a_stub_keeps_the_tool_its_arguments_and_its_sources() -> None:
    messages = _turn(1)
    line = str(
        stub(messages[2], {"c1": ("fetch_page", {"url": "https://example.com/page1"})}).content
    )
    assert "fetch_page" in line and '{"url": "https://example.com/page1"}' in line
    assert "sources: https://example.com/page1" in line
    assert "Lorem" not in line and len(line) < 400


def test_a_digest_line_keeps_question_tools_sources_and_answer() -> None:
    line = digest_line(_turn(3))
    assert "What does page #3 say?" in line
    assert "fetch_page" in line and "sources: https://example.com/page3" in line
    assert "Page 3 says lorem ipsum." in line
    assert "\n" not in line
    brief = digest_line(_turn(3), brief=True)
    assert "sources: https://example.com/page3" in brief and "fetch_page" in brief
    assert len(brief) < len(line)


def test_shortening_stubs_old_tool_outputs_before_it_digests_turns() -> None:
    messages = [m for n in range(1, 5) for m in _turn(n)] + [HumanMessage("And now?", id="q")]

    def size(m: Any) -> int:
        return len(str(m.content)) // 4 + 4

    whole = sum(size(m) for m in messages)
    mild = shorten(messages, whole - 500, Memo(size))  # one stub is enough
    assert mild.shortened and len(mild.messages) == len(messages)
    assert "left out" in str(mild.messages[2].content)  # the oldest tool output went first
    assert mild.messages[6].content == PAGE
    medium = shorten(
        messages, 300, Memo(size)
    )  # every old output stubbed, the oldest turns digested
    assert "summarised here" in str(medium.messages[0].content)
    assert "page #1" in str(medium.messages[0].content)
    recent = medium.messages[-5:-1]  # the last old turn, kept as it was (its output stubbed)
    assert [type(m) for m in recent] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert recent[0].content == "What does page #4 say?"
    assert recent[3].content == "Page 4 says lorem ipsum."
    assert "left out" in str(recent[2].content)
    assert medium.size <= 300
    hard = shorten(messages, 200, Memo(size))  # only digests and the question fit
    assert isinstance(hard.messages[0], HumanMessage)
    text = str(hard.messages[0].content)
    assert all(f"https://example.com/page{n}" in text for n in range(1, 5))
    assert hard.messages[-1].content == "And now?"
    assert hard.size <= 200
    assert shorten(messages, whole, Memo(size)).messages == messages  # fits: untouched


# --- the agent: a view that fits, a thread that keeps everything ----------------------


def test_a_known_window_is_never_passed_and_the_thread_keeps_every_turn(
    server: OpenAIServer,
) -> None:
    agent = openai_agent(server, **{"openai:test-model": {"context_window": 3_000}})
    for n in range(1, 13):
        answer = agent.ask(f"What does page #{n} say?", thread="t")
        assert answer.text.startswith("Here is what the page says."), n
    assert refused(server) == []
    assert server.calls == 24  # a tool call and an answer per turn, no retries
    saved = thread_messages(agent, "t")
    assert [m.content for m in saved if isinstance(m, HumanMessage)] == [
        f"What does page #{n} say?" for n in range(1, 13)
    ]
    assert [m.content for m in saved if isinstance(m, ToolMessage)] == [PAGE_FENCED] * 12
    # What the model saw last still names every page it was shown, by its source.
    last = json.dumps(server.requests[-1])
    assert all(f"https://example.com/page{n}" in last for n in range(1, 13))
    assert "summarised here" in last  # older turns were digested


PAGE_FENCED = f'<tool_output tool="fetch_page">\n{PAGE}\n</tool_output>'


def test_an_unknown_window_is_learned_from_the_providers_refusal(server: OpenAIServer) -> None:
    agent = openai_agent(server)
    for n in range(1, 13):
        answer = agent.ask(f"What does page #{n} say?", thread="t")
        assert answer.text.startswith("Here is what the page says."), n
    fails = refused(server)
    assert len(fails) == 1  # refused once; from then on the thread knows the window
    assert prompt_tokens(server.requests[fails[0] + 1]) <= 3_000  # and the retry fit
    assert len([m for m in thread_messages(agent, "t") if isinstance(m, HumanMessage)]) == 12


# --- one shorten-and-retry ----------------------------------------------------------


def _overflow(messages: list[Any], tools: Any) -> AIMessage:
    raise _ProviderError(
        "Error code: 400 - This model's maximum context length is 100 tokens. However, "
        "your messages resulted in 400 tokens."
    )


def test_a_context_error_triggers_exactly_one_shorten_and_retry() -> None:
    model = ScriptedChatModel(replies=["first", _overflow, "after the retry"])
    agent = Agent(model, [fetch_page])
    agent.ask("x " * 300, thread="t")
    answer = agent.ask("short question", thread="t")
    assert answer.text == "after the retry"
    assert model.calls == 3
    tried, retried = model.requests[1], model.requests[2]
    assert len(str(retried)) < len(str(tried))
    assert retried[-1].content == "short question"
    saved = thread_messages(agent, "t")
    assert saved[0].content == "x " * 300  # the saved thread is whole
    assert saved[-1].response_metadata[CONTEXT_KEY]["window"] == 100


def test_when_even_the_retry_does_not_fit_one_clear_error_and_the_thread_goes_on() -> None:
    model = ScriptedChatModel(replies=["first", _overflow, _overflow, "fine again"])
    agent = Agent(model, [fetch_page])
    agent.ask("hello", thread="t")
    with pytest.raises(ContextWindowExceeded) as info:
        agent.ask("y " * 2_000, thread="t")
    message = str(info.value)
    assert "context window (100 tokens)" in message
    assert "new thread" in message and "bigger window" in message
    assert "\n" not in message
    assert model.calls == 3  # the call and one retry, no more
    assert agent.ask("a short one", thread="t").text == "fine again"


def test_other_errors_are_not_retried() -> None:
    def broken(messages: list[Any], tools: Any) -> AIMessage:
        raise _ProviderError("Error code: 400 - invalid tool schema")

    model = ScriptedChatModel(replies=[broken, "never"])
    with pytest.raises(_ProviderError):
        Agent(model, [fetch_page]).ask("hi")
    assert model.calls == 1


def test_a_learned_window_survives_a_refusal_that_states_no_numbers() -> None:
    def plain_refusal(messages: list[Any], tools: Any) -> AIMessage:
        raise _ProviderError("prompt is too long")

    model = ScriptedChatModel(replies=["first", _overflow, "second", plain_refusal, "third"])
    agent = Agent(model, [fetch_page])
    agent.ask("x " * 300, thread="t")
    agent.ask("one more", thread="t")  # refused with numbers: the window is learned
    assert agent.ask("and another", thread="t").text == "third"
    assert model.calls == 5
    assert thread_messages(agent, "t")[-1].response_metadata[CONTEXT_KEY]["window"] == 100


async def test_async_runs_shorten_and_retry_too() -> None:
    model = ScriptedChatModel(replies=["first", _overflow, "after the retry"])
    agent = Agent(model, [fetch_page])
    await agent.aask("x " * 300, thread="t")
    answer = await agent.aask("short question", thread="t")
    assert answer.text == "after the retry"
    assert model.calls == 3
    assert len(str(model.requests[2])) < len(str(model.requests[1]))
