"""Assemble model + tools + middleware + checkpointer into the LangGraph loop.

``create_agent`` is LangChain v1's ``create_agent`` (its model and tool nodes, its
parallel tool execution through ``Send``) with ahora's middleware around both
nodes. The middleware only use ``wrap_*`` hooks, so the graph has exactly the nodes
LangChain builds and the per-step overhead stays close to the bare loop's.

``Agent`` is the embedding API on top: ``ask``/``aask`` return an ``Answer``,
``stream``/``astream`` yield typed events, ``.graph`` is the graph itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ahora.answer import Answer
from ahora.errors import InvalidSettings, InvalidTool
from ahora.events import (
    Event,
    EventBuilder,
    Finished,
    answer_from_messages,
)
from ahora.settings import Settings, get_settings

if TYPE_CHECKING:
    from langchain.agents.middleware import AgentMiddleware
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer

__all__ = ["Agent", "create_agent"]

_STREAM_MODES: list[Literal["messages", "updates"]] = ["messages", "updates"]


def _tools(tools: Sequence[Any] | None) -> list[BaseTool]:
    """Tools as LangChain tools: instances pass, callables are wrapped, names are looked up."""
    from langchain_core.tools import BaseTool, tool

    from ahora.tools import default_tools

    if tools is None:
        return default_tools()
    if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence):
        raise InvalidTool("tools must be a list of tools, callables or tool names")
    out: list[BaseTool] = []
    names: set[str] = set()
    by_name: dict[str, BaseTool] | None = None
    for item in tools:
        if isinstance(item, BaseTool):
            made = item
        elif isinstance(item, str):
            if by_name is None:
                from ahora.tools.registry import available_tools

                by_name = available_tools()
            if item not in by_name:
                raise InvalidTool(f"unknown tool {item!r}; available: {', '.join(sorted(by_name))}")
            made = by_name[item]
        elif callable(item) and not isinstance(item, type):
            if not (getattr(item, "__doc__", None) or "").strip():
                raise InvalidTool(
                    f"{getattr(item, '__name__', item)!r} needs a docstring: the model reads it "
                    "to decide when to call the tool"
                )
            made = tool(item, parse_docstring=False)
        else:
            raise InvalidTool(
                f"{item!r} is not a tool: pass a LangChain tool (@tool), a function with a "
                "docstring, or the name of a registered tool"
            )
        if made.name in names:
            raise InvalidTool(f"two tools are named {made.name!r}; tool names must be unique")
        names.add(made.name)
        out.append(made)
    return out


def create_agent(
    model: str | BaseChatModel | None = None,
    tools: Sequence[BaseTool | Callable[..., Any] | str] | None = None,
    *,
    instructions: str | None = None,
    profile: str | None = None,
    max_steps: int | None = None,
    checkpointer: Checkpointer | None = None,
    middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
    timezone: str | None = None,
    settings: Settings | None = None,
    name: str = "ahora",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build the agent graph. Drive it with ``{"messages": [...]}``.

    Args:
        model: A LangChain chat model, a ``"provider:name"`` string, or None to detect
            one from the environment (see ``ahora.models``).
        tools: Tools, functions with docstrings, or registered tool names; None for
            ``ahora.tools.default_tools()``.
        instructions: Extra system instructions, added after the profile's.
        profile: A profile name or TOML path (``agents/``): its instructions, tools,
            model and step budget, each overridden by the arguments given here.
        max_steps: Model calls per run; the last one answers without tools.
        checkpointer: A LangGraph checkpointer for conversations that persist.
        middleware: More LangChain ``AgentMiddleware``, placed inside ahora's own.
        timezone: The user's IANA timezone for dates in the prompt.
        settings: Settings to use instead of the environment's.
        name: The graph's name.
    """
    s = settings or get_settings()
    if profile is not None:
        from ahora.profiles import load_profile

        p = load_profile(profile, settings=s)
        instructions = "\n\n".join(x for x in (p.system_instructions(), instructions) if x)
        tools = tools if tools is not None else p.tools
        model = model if model is not None else p.model
        max_steps = max_steps if max_steps is not None else p.max_steps
    steps = s.max_steps if max_steps is None else max_steps
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise InvalidSettings(f"max_steps must be a whole number of at least 1, not {steps!r}")
    from ahora.models import resolve_model

    chat_model = resolve_model(model, settings=s)
    tool_list = _tools(tools)
    return build_graph(
        chat_model,
        tool_list,
        instructions=instructions,
        max_steps=steps,
        checkpointer=checkpointer,
        middleware=middleware,
        timezone=timezone or s.timezone,
        settings=s,
        name=name,
    )


def build_graph(
    chat_model: BaseChatModel,
    tool_list: list[BaseTool],
    *,
    instructions: str | None,
    max_steps: int,
    checkpointer: Checkpointer | None,
    middleware: Sequence[AgentMiddleware[Any, Any, Any]],
    timezone: str | None,
    settings: Settings,
    name: str,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph from already-resolved parts (``create_agent`` validates first)."""
    from langchain.agents import create_agent as lc_create_agent

    from ahora.middleware import (
        DatePromptMiddleware,
        EmptyReplyMiddleware,
        InvalidToolCallsMiddleware,
        StepBudgetMiddleware,
        ToolErrorsMiddleware,
        ToolOutputMiddleware,
    )
    from ahora.prompt import user_timezone

    # First in the list is outermost. Model side: prompt -> empty-reply retry ->
    # malformed-call repair -> step budget -> model. Tool side: cap/fence -> malformed
    # call answer -> error capture -> tool.
    stack: list[AgentMiddleware[Any, Any, Any]] = [
        DatePromptMiddleware(instructions, user_timezone(timezone)),
        EmptyReplyMiddleware(),
        ToolOutputMiddleware(settings.tool_output_chars),
        InvalidToolCallsMiddleware(),
        StepBudgetMiddleware(max_steps),
        ToolErrorsMiddleware(),
        *middleware,
    ]
    return lc_create_agent(
        chat_model,
        tool_list,
        middleware=stack,
        checkpointer=checkpointer,
        name=name,
    )


class Agent:
    """An agent you can ask questions: the embedding API.

    ``ask``/``aask`` return an ``Answer``; ``stream``/``astream`` yield typed events
    (``ahora.events``) ending with ``Finished``. Conversations continue by passing the
    ``thread`` id back (``answer.thread_id``); without a checkpointer they live in memory.
    """

    def __init__(
        self,
        model: str | BaseChatModel | None = None,
        tools: Sequence[BaseTool | Callable[..., Any] | str] | None = None,
        *,
        instructions: str | None = None,
        profile: str | None = None,
        max_steps: int | None = None,
        checkpointer: Checkpointer | None = None,
        middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
        timezone: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        from langgraph.checkpoint.memory import InMemorySaver

        from ahora.models import model_label, resolve_model

        self.settings = settings or get_settings()
        if profile is not None and model is None:
            from ahora.profiles import load_profile

            model = load_profile(profile, settings=self.settings).model
        self.model = resolve_model(model, settings=self.settings)
        self.model_name = model_label(self.model)
        self.checkpointer = checkpointer if checkpointer is not None else InMemorySaver()
        self.graph = create_agent(
            self.model,
            tools,
            instructions=instructions,
            profile=profile,
            max_steps=max_steps,
            checkpointer=self.checkpointer,
            middleware=middleware,
            timezone=timezone,
            settings=self.settings,
        )

    @property
    def tools(self) -> list[BaseTool]:
        node = self.graph.nodes.get("tools")
        bound = getattr(node, "bound", None)
        return list(getattr(bound, "tools_by_name", {}).values())

    def _config(self, thread: str | None) -> RunnableConfig:
        return {"configurable": {"thread_id": thread or str(uuid.uuid4())}}

    @staticmethod
    def _input(question: str) -> dict[str, Any]:
        from langchain_core.messages import HumanMessage

        return {"messages": [HumanMessage(content=question)]}

    def _answer(self, config: RunnableConfig, started: float) -> Answer:
        state = self.graph.get_state(config)
        return answer_from_messages(
            list(state.values.get("messages", [])),
            thread_id=_thread_id(config),
            model=self.model_name,
            seconds=time.monotonic() - started,
        )

    async def _aanswer(self, config: RunnableConfig, started: float) -> Answer:
        state = await self.graph.aget_state(config)
        return answer_from_messages(
            list(state.values.get("messages", [])),
            thread_id=_thread_id(config),
            model=self.model_name,
            seconds=time.monotonic() - started,
        )

    def ask(self, question: str, *, thread: str | None = None) -> Answer:
        """Run one turn and return the answer (works inside Jupyter's running loop too)."""
        started = time.monotonic()
        config = self._config(thread)
        with _translated_errors():
            self.graph.invoke(self._input(question), config)
        return self._answer(config, started)

    async def aask(self, question: str, *, thread: str | None = None) -> Answer:
        """``ask`` for async code (FastAPI, Jupyter's ``await``)."""
        started = time.monotonic()
        config = self._config(thread)
        with _translated_errors():
            await self.graph.ainvoke(self._input(question), config)
        return await self._aanswer(config, started)

    def stream(self, question: str, *, thread: str | None = None) -> Iterator[Event]:
        """Yield events as the run goes; the last one is ``Finished(answer)``."""
        started = time.monotonic()
        config = self._config(thread)
        builder = EventBuilder()
        yield from builder.start()
        with _translated_errors():
            for mode, chunk in self.graph.stream(
                self._input(question),
                config,
                stream_mode=_STREAM_MODES,
            ):
                yield from builder.feed(mode, chunk)
        yield Finished(self._answer(config, started))

    async def astream(self, question: str, *, thread: str | None = None) -> AsyncIterator[Event]:
        """``stream`` for async code."""
        started = time.monotonic()
        config = self._config(thread)
        builder = EventBuilder()
        for event in builder.start():
            yield event
        with _translated_errors():
            async for mode, chunk in self.graph.astream(
                self._input(question),
                config,
                stream_mode=_STREAM_MODES,
            ):
                for event in builder.feed(mode, chunk):
                    yield event
        yield Finished(await self._aanswer(config, started))


def _thread_id(config: RunnableConfig) -> str:
    return str(config.get("configurable", {})["thread_id"])


class _translated_errors:
    """Re-raise provider errors the user must act on as ahora errors."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None:
            return False
        from ahora.models import translate_model_error

        mapped = translate_model_error(exc)
        if mapped is not None:
            raise mapped from exc
        return False
