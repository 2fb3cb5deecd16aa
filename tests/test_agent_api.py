"""The embedding API: Agent/create_agent validation, answers, threads, sync and async use."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool, tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver

from ahora import Agent, Answer, create_agent
from ahora.errors import ConfigurationError, InvalidModel, InvalidSettings, InvalidTool
from ahora.testing import ScriptedChatModel, tool_call
from ahora.testing.openai_server import OpenAIServer


def echo(text: str) -> str:
    """Repeat the text back."""
    return f"echo: {text}"


def no_doc(x: int) -> int:
    return x


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    """A server that must stay untouched: construction fails before any network call."""
    with OpenAIServer(fallback="should never be asked") as srv:
        yield srv


def openai(srv: OpenAIServer) -> ChatOpenAI:
    return ChatOpenAI(model="test-model", api_key="test", base_url=srv.base_url, max_retries=0)  # type: ignore[arg-type]


@tool("echo")
def other_echo(text: str) -> str:
    """Another tool called echo."""
    return text


_BAD_TOOLS: dict[str, tuple[Any, str]] = {
    "not a list": ("echo", "must be a list"),
    "a number": ([42], "is not a tool"),
    "a class": ([ValueError], "is not a tool"),
    "no docstring": ([no_doc], "needs a docstring"),
    "lambda": ([lambda x: x], "needs a docstring"),
    "duplicate names": ([echo, other_echo], "two tools are named 'echo'"),
    "unknown registered name": (["no_such_tool"], "unknown tool 'no_such_tool'"),
}


@pytest.mark.parametrize("case", list(_BAD_TOOLS))
@pytest.mark.parametrize("entry", [Agent, create_agent])
def test_bad_tools_fail_at_construction(server: OpenAIServer, entry: Any, case: str) -> None:
    tools, words = _BAD_TOOLS[case]
    with pytest.raises(InvalidTool) as info:
        entry(openai(server), tools)
    assert words in str(info.value)
    assert server.calls == 0


@pytest.mark.parametrize("max_steps", [0, -3, True, False, 2.5, "3"])
@pytest.mark.parametrize("entry", [Agent, create_agent])
def test_bad_max_steps_fail_at_construction(
    server: OpenAIServer, entry: Any, max_steps: Any
) -> None:
    with pytest.raises(InvalidSettings, match="max_steps"):
        entry(openai(server), [echo], max_steps=max_steps)
    assert server.calls == 0


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("gpt-4.1-mini", "no provider"),
        ("madeup:model", "unknown model provider"),
        (3.14, "not float"),
    ],
)
def test_bad_models_fail_at_construction(model: Any, words: str) -> None:
    with pytest.raises(InvalidModel, match=words):
        Agent(model, [echo])
    with pytest.raises(InvalidModel, match=words):
        create_agent(model, [echo])


def test_every_construction_error_is_a_configuration_error() -> None:
    for call in (
        lambda: Agent("nope", [echo]),
        lambda: Agent(ScriptedChatModel(), [1]),
        lambda: Agent(ScriptedChatModel(), [echo], max_steps=0),
    ):
        with pytest.raises(ConfigurationError):
            call()


def test_agent_exposes_its_parts() -> None:
    model = ScriptedChatModel(replies=["hi"])
    saver = InMemorySaver()
    agent = Agent(
        model, [echo, other_echo.model_copy(update={"name": "echo2"})], checkpointer=saver
    )
    assert agent.model_name == "scripted"
    assert agent.checkpointer is saver
    assert [t.name for t in agent.tools] == ["echo", "echo2"]
    assert all(isinstance(t, BaseTool) for t in agent.tools)
    assert set(agent.graph.nodes) >= {"model", "tools"}
    assert isinstance(Agent(ScriptedChatModel(), [echo]).checkpointer, InMemorySaver)


def test_answer_carries_text_sources_calls_usage_thread_and_steps() -> None:
    @tool(response_format="content_and_artifact")
    def lookup(q: str) -> tuple[str, dict[str, Any]]:
        """Look something up.

        Args:
            q: What to look up.
        """
        src = {"url": "https://example.org/x", "title": "X", "fetched_at": "2026-11-19T10:00:00Z"}
        return f"found {q}", {"sources": [src]}

    model = ScriptedChatModel(
        replies=[tool_call("lookup", {"q": "x"}), "X is at https://example.org/x"]
    )
    answer = Agent(model, [lookup]).ask("where is x?")
    assert isinstance(answer, Answer)
    assert str(answer) == answer.text == "X is at https://example.org/x"
    assert answer.sources == [
        {"url": "https://example.org/x", "title": "X", "fetched_at": "2026-11-19T10:00:00Z"}
    ]
    assert answer.tool_calls == [{"name": "lookup", "args": {"q": "x"}}]
    assert answer.usage["input_tokens"] > 0 and answer.usage["output_tokens"] > 0
    assert answer.steps == 2 and answer.model == "scripted" and answer.seconds > 0
    assert answer.thread_id and not answer.stopped_early
    data = answer.to_dict()
    assert data["answer"] == answer.text
    assert data["sources"] == [
        {"url": "https://example.org/x", "title": "X", "fetched_at": "2026-11-19T10:00:00Z"}
    ]
    assert data["thread_id"] == answer.thread_id and data["steps"] == 2
    markdown = answer._repr_markdown_()
    assert "[X](https://example.org/x)" in markdown and "2 steps" in markdown


def test_threads_continue_and_new_threads_start_fresh() -> None:
    model = ScriptedChatModel(
        replies=["Nice to meet you, Ana.", "Your name is Ana.", "I don't know."]
    )
    agent = Agent(model, [echo])
    first = agent.ask("My name is Ana.")
    second = agent.ask("What is my name?", thread=first.thread_id)
    assert second.thread_id == first.thread_id
    seen = model.requests[1]
    assert [type(m) for m in seen] == [SystemMessage, HumanMessage, AIMessage, HumanMessage]
    assert seen[1].content == "My name is Ana." and seen[2].content == "Nice to meet you, Ana."
    # The answer describes only the latest turn.
    assert second.text == "Your name is Ana." and second.steps == 1
    third = agent.ask("What is my name?")
    assert third.thread_id != first.thread_id
    assert len(model.requests[2]) == 2  # system prompt + the new question only


def test_thread_ids_can_be_chosen_by_the_caller() -> None:
    model = ScriptedChatModel(replies=["one", "two"])
    agent = Agent(model, [echo])
    assert agent.ask("a", thread="my-thread").thread_id == "my-thread"
    agent.ask("b", thread="my-thread")
    assert len(model.requests[1]) == 4


async def test_aask_inside_a_running_event_loop() -> None:
    model = ScriptedChatModel(replies=[tool_call("echo", {"text": "x"}), "async answer", "later"])
    agent = Agent(model, [echo])
    answer = await agent.aask("hi")
    assert answer.text == "async answer" and answer.steps == 2
    more = await agent.aask("again", thread=answer.thread_id)
    assert more.text == "later"
    results = await asyncio.gather(
        Agent(ScriptedChatModel(replies=["a"]), [echo]).aask("1"),
        Agent(ScriptedChatModel(replies=["b"]), [echo]).aask("2"),
    )
    assert [r.text for r in results] == ["a", "b"]


def test_sync_ask_and_stream_work_when_a_loop_is_already_running() -> None:
    """Like a Jupyter cell: plain ``agent.ask`` called while an event loop runs."""
    model = ScriptedChatModel(
        replies=[tool_call("echo", {"text": "x"}), "sync inside loop", "streamed"]
    )
    agent = Agent(model, [echo])

    async def cell() -> tuple[Answer, list[Any]]:
        asyncio.get_running_loop()  # a loop is running in this thread
        answer = agent.ask("hi")
        events = list(agent.stream("more", thread=answer.thread_id))
        return answer, events

    answer, events = asyncio.run(cell())
    assert answer.text == "sync inside loop"
    assert events[-1].answer.text == "streamed"


def test_instructions_and_user_middleware_reach_the_model() -> None:
    seen: list[str] = []

    class Spy(AgentMiddleware[Any, Any, Any]):
        def wrap_model_call(self, request: ModelRequest[Any], handler: Any) -> ModelResponse[Any]:
            seen.append(request.system_prompt or "")
            return handler(request)  # type: ignore[no-any-return]

    model = ScriptedChatModel(replies=["ok"])
    Agent(model, [echo], instructions="Always answer like a pirate.", middleware=[Spy()]).ask("hi")
    assert "Always answer like a pirate." in str(model.requests[0][0].content)
    assert len(seen) == 1 and "Always answer like a pirate." in seen[0]


def test_settings_object_is_used_instead_of_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ahora.settings import Settings

    monkeypatch.setenv("AHORA_MAX_STEPS", "50")
    model = ScriptedChatModel(
        replies=[lambda m, t: tool_call("echo", {"text": str(len(m))}) if t else "done"] * 5
    )
    answer = Agent(model, [echo], settings=Settings.load(max_steps=2)).ask("go")
    assert answer.steps == 2 and answer.stopped_early


def test_messages_and_rollback_of_a_thread() -> None:
    agent = Agent(ScriptedChatModel(replies=["one", "two"]), [])
    first = agent.ask("first")
    thread = first.thread_id
    assert thread is not None
    events = list(agent.stream("second", thread=thread, question_id="q-2"))
    assert events[-1].answer.text == "two"  # type: ignore[attr-defined]
    assert [m.content for m in agent.messages(thread)] == ["first", "one", "second", "two"]
    assert agent.rollback(thread, "q-2") is True
    assert [m.content for m in agent.messages(thread)] == ["first", "one"]
    assert agent.rollback(thread, "never-asked") is False
    assert [m.content for m in agent.messages(thread)] == ["first", "one"]
    assert agent.messages("a-thread-never-used") == []


def test_resume_without_a_decision_is_refused_clearly_where_it_cannot_go_on() -> None:
    """``resume(thread)`` goes on after a crash; with calls awaiting a decision, or with
    nothing unfinished, it says so instead of guessing."""

    @tool
    def launch() -> str:
        """Launch."""
        return "launched"

    model = ScriptedChatModel(replies=[tool_call("launch", {}), "Launched.", "Hi."])
    agent = Agent(model, [launch], approvals=["launch"])
    paused = agent.ask("Launch it.", thread="p")
    assert paused.pending
    with pytest.raises(InvalidSettings, match=r"1 tool calls await a decision"):
        agent.resume("p")
    assert agent.resume("p", approve=True).text == "Launched."
    with pytest.raises(InvalidSettings, match="no unfinished run to go on with"):
        agent.resume("p")
    with pytest.raises(InvalidSettings, match="no unfinished run"):
        agent.resume("never-used")
