"""Merging wrap-only middleware into one: which middleware may merge, that the
merged one calls each part on the hooks it has, sync and async, and that a part's
own state reaches the graph through it."""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired

import pytest
from langchain.agents import AgentState
from langchain.agents import create_agent as lc_create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ExtendedModelResponse
from langchain_core.tools import tool
from langgraph.types import Command

from ahora.middleware.combined import CombinedMiddleware, combine, wrap_only
from ahora.testing import ScriptedChatModel, tool_call


@tool
def noop() -> str:
    """Do nothing."""
    return "ok"


class Log:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def model_only_async(self, tag: str) -> AgentMiddleware[Any, Any, Any]:
        """A middleware with only the async model hook."""
        log = self

        class AsyncModel(AgentMiddleware[Any, Any, Any]):
            async def awrap_model_call(self, request: Any, handler: Any) -> Any:
                log.seen.append(f"amodel {tag}")
                return await handler(request)

        return AsyncModel()

    def tool_only_async(self, tag: str) -> AgentMiddleware[Any, Any, Any]:
        log = self

        class AsyncTool(AgentMiddleware[Any, Any, Any]):
            async def awrap_tool_call(self, request: Any, handler: Any) -> Any:
                log.seen.append(f"atool {tag}")
                return await handler(request)

        return AsyncTool()


class WithState(AgentMiddleware[Any, Any, Any]):
    class State(AgentState[Any]):
        extra: str

    state_schema = State


class WithTools(AgentMiddleware[Any, Any, Any]):
    tools = [noop]  # noqa: RUF012


class AfterModel(AgentMiddleware[Any, Any, Any]):
    def after_model(self, state: Any, runtime: Any) -> None:
        return None


class AsyncBefore(AgentMiddleware[Any, Any, Any]):
    async def abefore_agent(self, state: Any, runtime: Any) -> None:
        return None


def test_only_wrap_hooks_without_tools_or_node_hooks_may_merge() -> None:
    log = Log()
    assert wrap_only(log.model_only_async("a")) and wrap_only(log.tool_only_async("b"))
    assert wrap_only(WithState())  # its schema travels with the combined middleware
    for other in (WithTools(), AfterModel(), AsyncBefore()):
        assert not wrap_only(other), type(other).__name__


def test_combine_keeps_order_and_merges_only_runs_of_two_or_more() -> None:
    log = Log()
    a, b, c = log.model_only_async("a"), log.tool_only_async("b"), log.model_only_async("c")
    after = AfterModel()
    stack = combine([a, b, after, c])
    assert isinstance(stack[0], CombinedMiddleware) and stack[0].parts == [a, b]
    assert stack[1:] == [after, c]  # a lone wrap-only middleware is left as it is
    assert combine([]) == []
    assert combine([c]) == [c]


def test_one_stateful_part_per_combined_and_its_schema_carried() -> None:
    log = Log()
    a, b = log.model_only_async("a"), log.model_only_async("b")
    s1, s2 = WithState(), WithState()
    stack = combine([a, s1, b, s2])
    assert [type(m).__name__ for m in stack] == ["CombinedMiddleware", "WithState"]
    assert isinstance(stack[0], CombinedMiddleware) and stack[0].parts == [a, s1, b]
    assert stack[0].state_schema is WithState.State and stack[1] is s2
    assert combine([a, b])[0].state_schema is AgentMiddleware.__dict__["state_schema"]


async def test_async_only_hooks_run_inside_the_merged_middleware() -> None:
    log = Log()
    merged = combine([log.model_only_async("m"), log.tool_only_async("t")])
    assert len(merged) == 1
    model = ScriptedChatModel(replies=[tool_call("noop"), "done"])
    graph = lc_create_agent(model, [noop], middleware=merged)
    question: Any = {"messages": [("user", "x")]}
    await graph.ainvoke(question)
    assert log.seen == ["amodel m", "atool t", "amodel m"]


# --- a part's own state, through the combined hook -----------------------------------


class Counted(AgentState[Any]):
    calls_seen: NotRequired[Annotated[list[int], operator.add]]


class Writer(AgentMiddleware[Any, Any, Any]):
    """Writes how many times it was called to its own channel."""

    state_schema = Counted

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _extended(self, request: Any, response: Any) -> Any:
        self.calls += 1
        update = {"calls_seen": [self.calls]}
        return ExtendedModelResponse(model_response=response, command=Command(update=update))

    def wrap_model_call(self, request: Any, handler: Any) -> Any:
        return self._extended(request, handler(request))

    async def awrap_model_call(self, request: Any, handler: Any) -> Any:
        return self._extended(request, await handler(request))


class Outer(AgentMiddleware[Any, Any, Any]):
    """Sees what LangChain would hand it: a plain ``ModelResponse``; retries once."""

    def __init__(self, retries: int = 0) -> None:
        super().__init__()
        self.retries = retries
        self.seen: list[str] = []

    def wrap_model_call(self, request: Any, handler: Any) -> Any:
        response = handler(request)
        for _ in range(self.retries):
            response = handler(request)
        self.seen.append(type(response).__name__)
        return response

    async def awrap_model_call(self, request: Any, handler: Any) -> Any:
        response = await handler(request)
        for _ in range(self.retries):
            response = await handler(request)
        self.seen.append(type(response).__name__)
        return response


@pytest.mark.parametrize("retries", [0, 1])
@pytest.mark.parametrize("combined", [True, False])
async def test_a_stateful_part_writes_its_channel_the_same_combined_or_not(
    retries: int, combined: bool
) -> None:
    """Same state and same responses seen outside, merged or as LangChain runs them
    one by one; an outer retry keeps the latest attempt's write, and only it."""
    for run in ("invoke", "ainvoke"):
        outer = Outer(retries)
        parts: list[AgentMiddleware[Any, Any, Any]] = [outer, Writer()]
        stack = combine(parts) if combined else parts
        assert len(stack) == (1 if combined else 2)
        calls = retries + 1  # replies per model call
        model = ScriptedChatModel(replies=[tool_call("noop")] * calls + ["done"] * calls)
        graph = lc_create_agent(model, [noop], middleware=stack)
        question: Any = {"messages": [("user", "x")]}
        state = graph.invoke(question) if run == "invoke" else await graph.ainvoke(question)
        assert state["calls_seen"] == [calls, 2 * calls], (run, state["calls_seen"])
        assert outer.seen == ["ModelResponse", "ModelResponse"]
