"""Merging wrap-only middleware into one: which middleware may merge, and that the
merged one calls each part on the hooks it has, sync and async."""

from __future__ import annotations

from typing import Any

from langchain.agents import AgentState
from langchain.agents import create_agent as lc_create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.tools import tool

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


def test_only_wrap_hooks_without_state_or_tools_may_merge() -> None:
    log = Log()
    assert wrap_only(log.model_only_async("a")) and wrap_only(log.tool_only_async("b"))
    for other in (WithState(), WithTools(), AfterModel(), AsyncBefore()):
        assert not wrap_only(other), type(other).__name__


def test_combine_keeps_order_and_merges_only_runs_of_two_or_more() -> None:
    log = Log()
    a, b, c = log.model_only_async("a"), log.tool_only_async("b"), log.model_only_async("c")
    stateful = WithState()
    stack = combine([a, b, stateful, c])
    assert isinstance(stack[0], CombinedMiddleware) and stack[0].parts == [a, b]
    assert stack[1:] == [stateful, c]  # a lone wrap-only middleware is left as it is
    assert combine([]) == []
    assert combine([c]) == [c]


async def test_async_only_hooks_run_inside_the_merged_middleware() -> None:
    log = Log()
    merged = combine([log.model_only_async("m"), log.tool_only_async("t")])
    assert len(merged) == 1
    model = ScriptedChatModel(replies=[tool_call("noop"), "done"])
    graph = lc_create_agent(model, [noop], middleware=merged)
    await graph.ainvoke({"messages": [("user", "x")]})
    assert log.seen == ["amodel m", "atool t", "amodel m"]
