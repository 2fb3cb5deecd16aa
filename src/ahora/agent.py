"""Assemble model + tools + middleware + checkpointer into the LangGraph loop.

``build_agent`` (also exported under its first name, ``create_agent``) is LangChain
v1's ``create_agent`` (its model and tool nodes, its parallel tool execution through
``Send``) with ahora's middleware around both nodes, built from a ``Recipe``
(``ahora.recipe``: one precedence, resolved once). ahora's own middleware only use
``wrap_*`` hooks and run combined as one (``middleware/combined.py``), so the graph
has exactly the nodes LangChain builds (plus LangChain's approval node when a tool
needs approval) and the per-step overhead stays close to the bare loop's. Own nodes
were not needed: every behaviour the issues ask for fits around the model call or
the tool call.

``Agent`` is the embedding API on top: ``ask``/``aask`` return an ``Answer``,
``stream``/``astream`` yield typed events, ``messages``/``rollback`` read and undo a
thread, ``.graph`` is the graph itself. Every run carries ``RunContext`` (the agent's
settings) to the tools (``ahora.context``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from ahora.answer import Answer
from ahora.context import RunContext
from ahora.errors import InvalidSettings, InvalidTool
from ahora.events import (
    Event,
    EventBuilder,
    Finished,
    answer_from_messages,
)
from ahora.middleware.budget import DEADLINE_KEY
from ahora.recipe import Budget, Choices, Recipe, resolve_recipe
from ahora.settings import Settings, get_settings

if TYPE_CHECKING:
    from langchain.agents.middleware import AgentMiddleware
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer

    from ahora.threads import ThreadIndex

__all__ = ["Agent", "build_agent", "create_agent", "graph_from_recipe", "thread_config"]

# "values" gives the final state, so a streamed answer needs no read of the checkpoint.
_STREAM_MODES: list[Literal["messages", "updates", "values"]] = ["messages", "updates", "values"]


def _tools(tools: Sequence[Any] | None, settings: Settings | None = None) -> list[BaseTool]:
    """Tools as LangChain tools: instances pass, callables are wrapped, names are looked up.

    None means every available tool: the built-ins, installed plugins, local tool files
    (``./tools`` or ``tools_dir``) and MCP servers from the config file.
    """
    from langchain_core.tools import BaseTool, tool

    if tools is None:
        from ahora.tools.registry import available_tools

        return list(available_tools(settings).values())
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

                by_name = available_tools(settings)
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


def build_agent(
    model: str | BaseChatModel | None = None,
    tools: Sequence[BaseTool | Callable[..., Any] | str] | None = None,
    *,
    instructions: str | None = None,
    profile: str | None = None,
    max_steps: int | None = None,
    max_tokens: int | None = None,
    max_cost: float | None = None,
    fallbacks: Sequence[str | BaseChatModel] | None = None,
    approvals: Sequence[str] | None = None,
    checkpointer: Checkpointer | None = None,
    middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
    timezone: str | None = None,
    settings: Settings | None = None,
    recipe: Recipe | None = None,
    name: str = "ahora",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build the agent graph. Drive it with ``{"messages": [...]}``.

    Also exported as ``ahora.create_agent``, a name kept for compatibility: it is not
    LangChain's ``create_agent`` (whose signature differs) but builds on it.

    Each argument left as None falls back on the profile, then on ``settings``
    (environment, then config file, then defaults): see ``ahora.recipe``.

    Args:
        model: A LangChain chat model, a ``"provider:name"`` string, or None to detect
            one from the environment (see ``ahora.models``).
        tools: Tools, functions with docstrings, or registered tool names; None for
            every available tool (built-ins, plugins, local files, MCP).
        instructions: Extra system instructions, added after the profile's.
        profile: A profile name or TOML path (``agents/``): its instructions, tools,
            model, budgets and approvals, each overridden by the arguments here.
        max_steps: Model calls per run; the last one answers without tools.
        max_tokens: Tokens per run; past it the next call answers without tools.
        max_cost: US dollars per run, where the model's prices are known
            (``ahora.pricing``; the config file's ``[prices]`` adds to them).
        fallbacks: Models to try, in order, when the model fails (not on bad keys).
        approvals: Names of tools that need a human's approval before they run
            (also any tool whose ``metadata`` has ``requires_approval``); needs a
            checkpointer, since the run pauses with a LangGraph interrupt.
        checkpointer: A LangGraph checkpointer for conversations that persist.
        middleware: More LangChain ``AgentMiddleware``, placed inside ahora's own.
        timezone: The user's IANA timezone, for dates in the prompt and the clock tool
            (``settings.timezone`` otherwise).
        settings: Settings to use instead of the environment's; tools see them too.
        recipe: An already resolved recipe; the arguments above must then be None.
        name: The graph's name.

    A wall-clock limit is a deadline in the run's config:
    ``{"configurable": {"ahora_deadline": time.time() + seconds}}`` (``Agent`` sets it
    from the recipe's ``budget.seconds``).
    """
    s = _settings(settings, timezone)
    choices = Choices(
        profile=profile,
        model=model,
        tools=tools,
        instructions=instructions,
        approvals=approvals,
        max_steps=max_steps,
        max_tokens=max_tokens,
        max_cost=max_cost,
        fallbacks=fallbacks,
    )
    return graph_from_recipe(
        _recipe(recipe, choices, s),
        s,
        checkpointer=checkpointer,
        middleware=middleware,
        timezone=timezone,
        name=name,
    )


create_agent = build_agent
"""``build_agent`` under its first name (not LangChain's ``create_agent``)."""


def _settings(settings: Settings | None, timezone: str | None) -> Settings:
    """The settings given (or the environment's, at this edge), with ``timezone`` in
    them, so the clock tool tells the same zone as the prompt."""
    s = settings or get_settings()
    return replace(s, timezone=timezone) if timezone else s


def _recipe(recipe: Recipe | None, choices: Choices, settings: Settings) -> Recipe:
    if recipe is None:
        return resolve_recipe(choices, settings)
    if choices != Choices():
        raise InvalidSettings("pass either a recipe or the parts of one, not both")
    return recipe


def graph_from_recipe(
    recipe: Recipe,
    settings: Settings,
    *,
    checkpointer: Checkpointer | None = None,
    middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
    timezone: str | None = None,
    name: str = "ahora",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph a recipe describes: resolves the models and tools, checks approvals."""
    from ahora.models import resolve_model

    chat_model = resolve_model(recipe.model, settings=settings)
    backups = [resolve_model(m, settings=settings) for m in recipe.fallbacks]
    tool_list = _tools(recipe.tools, settings)
    gated = list(recipe.approvals)
    known = {t.name for t in tool_list}
    for tool_name in gated:
        if tool_name not in known:
            raise InvalidTool(
                f"approvals names {tool_name!r}, which is not one of the agent's tools: "
                + ", ".join(sorted(known))
            )
    gated += [t.name for t in tool_list if (t.metadata or {}).get("requires_approval")]
    return build_graph(
        chat_model,
        tool_list,
        instructions=recipe.instructions,
        budget=recipe.budget,
        fallbacks=backups,
        approvals=sorted(set(gated)),
        checkpointer=checkpointer,
        middleware=middleware,
        timezone=timezone or settings.timezone,
        settings=settings,
        name=name,
    )


def build_graph(
    chat_model: BaseChatModel,
    tool_list: list[BaseTool],
    *,
    instructions: str | None,
    budget: Budget,
    fallbacks: Sequence[BaseChatModel] = (),
    approvals: Sequence[str] = (),
    checkpointer: Checkpointer | None,
    middleware: Sequence[AgentMiddleware[Any, Any, Any]],
    timezone: str | None,
    settings: Settings,
    name: str,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph from already-resolved parts (``graph_from_recipe`` validates first)."""
    from langchain.agents import create_agent as lc_create_agent

    from ahora import middleware as mw
    from ahora.middleware.deadline import DeadlineMiddleware
    from ahora.prompt import user_timezone

    # First in the list is outermost.
    # Model side: prompt -> unanswered calls of a killed run -> empty-reply retry ->
    #   malformed-call repair -> budgets -> deadline -> fallback models -> context window
    #   -> model.
    # Tool side: cap and fence -> malformed-call answer -> deadline -> loop guard ->
    #   timeout -> error capture -> tool.
    stack: list[AgentMiddleware[Any, Any, Any]] = [
        mw.DatePromptMiddleware(instructions, user_timezone(timezone)),
        mw.RunContextMiddleware(RunContext(settings=settings)),
        mw.DanglingToolCallsMiddleware(),
        mw.EmptyReplyMiddleware(),
        mw.ToolOutputMiddleware(settings.tool_output_chars),
        mw.InvalidToolCallsMiddleware(),
        mw.BudgetMiddleware(
            budget.steps, max_tokens=budget.tokens, max_cost=budget.cost, prices=settings.prices
        ),
        DeadlineMiddleware(),  # inside the budget: cuts the call in flight at the deadline
        mw.LoopGuardMiddleware(),
        mw.ToolTimeoutMiddleware(settings.tool_timeout),
        mw.ToolErrorsMiddleware(),
    ]
    if fallbacks:
        stack.append(mw.ModelFallbackMiddleware(fallbacks))
    # Innermost, so each model (a fallback too) is sent a view that fits its own window.
    stack.append(mw.ContextWindowMiddleware(settings.models))
    # One LangChain hook per side for all of the above (see middleware/combined.py):
    # LangChain traces each hook separately, which costs ~0.1 ms a hook a step.
    from ahora.middleware.combined import combine

    stack = combine(stack)
    stack.append(mw.OfferedToolsMiddleware())  # innermost: the tools as sent (export)
    if approvals:
        stack.append(mw.approval_middleware(approvals))
    stack.extend(middleware)
    return lc_create_agent(
        chat_model,
        tool_list,
        middleware=stack,
        checkpointer=checkpointer,
        # No ``context_schema=RunContext``: the LangGraph server passes a context of
        # its own with every run, which LangGraph would coerce into the schema and
        # fail; RunContextMiddleware fills in the agent's context instead.
        name=name,
    )


class Agent:
    """An agent you can ask questions: the embedding API.

    ``ask``/``aask`` return an ``Answer``; ``stream``/``astream`` yield typed events
    (``ahora.events``) ending with ``Finished``. Conversations continue by passing the
    ``thread`` id back (``answer.thread_id``); without a checkpointer they live in
    memory, the most recent ``settings.memory_threads`` (1,000) of them. When a tool
    needs approval the answer comes back with ``pending`` approvals;
    ``resume(thread, approve=...)`` continues the run.

    The arguments are the top layer of the recipe (``ahora.recipe``); what they leave
    out comes from the profile, then ``settings``. ``recipe=`` passes a resolved one.
    """

    def __init__(
        self,
        model: str | BaseChatModel | None = None,
        tools: Sequence[BaseTool | Callable[..., Any] | str] | None = None,
        *,
        instructions: str | None = None,
        profile: str | None = None,
        max_steps: int | None = None,
        max_tokens: int | None = None,
        max_cost: float | None = None,
        timeout: float | None = None,
        fallbacks: Sequence[str | BaseChatModel] | None = None,
        approvals: Sequence[str] | None = None,
        checkpointer: Checkpointer | None = None,
        threads: bool = False,
        middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
        timezone: str | None = None,
        settings: Settings | None = None,
        recipe: Recipe | None = None,
    ) -> None:
        """``threads=True`` saves conversations in the terminal's store (``ahora threads``;
        ``ahora.threads``) instead of memory: ``checkpointer`` is then that store."""
        from langgraph.checkpoint.memory import InMemorySaver

        from ahora.memory_saver import BoundedMemorySaver
        from ahora.models import model_label, resolve_model

        self.settings = _settings(settings, timezone)
        self.context = RunContext(settings=self.settings)
        choices = Choices(
            profile=profile,
            model=model,
            tools=tools,
            instructions=instructions,
            approvals=approvals,
            max_steps=max_steps,
            max_tokens=max_tokens,
            max_cost=max_cost,
            timeout=timeout,
            fallbacks=fallbacks,
        )
        self.recipe = _recipe(recipe, choices, self.settings)
        self.model = resolve_model(self.recipe.model, settings=self.settings)
        self.model_name = model_label(self.model)
        self.timeout = self.recipe.budget.seconds
        self.threads: ThreadIndex | None = None
        if threads:
            if checkpointer is not None:
                raise InvalidSettings("give threads=True or a checkpointer, not both")
            from ahora.threads import ThreadIndex, open_checkpointer

            checkpointer = open_checkpointer(self.settings)
            self.threads = ThreadIndex.for_settings(self.settings)
        # Without a store, at most ``settings.memory_threads`` conversations stay in
        # memory (the least recently used go first), so an embedding app stays bounded.
        self.checkpointer = (
            checkpointer
            if checkpointer is not None
            else BoundedMemorySaver(
                self.settings.memory_threads, keep_history=self.settings.keep_history
            )
        )
        # A checkpoint that lives in memory cannot outlive a crash, so writing one per
        # step buys nothing: save once at the end of each run (measured: ~3 ms a run).
        # One on disk is written before the next step starts ("sync"; LangGraph's
        # default "async" may still be writing it when a tool runs), so a process
        # killed mid-turn loses at most the step in flight.
        self._durability: Literal["sync", "async", "exit"] = (
            "exit" if isinstance(self.checkpointer, InMemorySaver) else "sync"
        )
        self.graph = graph_from_recipe(
            replace(self.recipe, model=self.model),
            self.settings,
            checkpointer=self.checkpointer,
            middleware=middleware,
            timezone=timezone,
        )

    @property
    def tools(self) -> list[BaseTool]:
        node = self.graph.nodes.get("tools")
        bound = getattr(node, "bound", None)
        return list(getattr(bound, "tools_by_name", {}).values())

    def _config(self, thread: str | None) -> RunnableConfig:
        """A run's config: the thread (a new one when None) and the deadline."""
        if self.timeout is None:
            return thread_config(thread or str(uuid.uuid4()))
        return thread_config(
            thread or str(uuid.uuid4()), **{DEADLINE_KEY: time.time() + self.timeout}
        )

    @staticmethod
    def _input(question: str, question_id: str | None = None) -> dict[str, Any]:
        from langchain_core.messages import HumanMessage

        return {"messages": [HumanMessage(content=question, id=question_id)]}

    def messages(self, thread: str) -> list[BaseMessage]:
        """The thread's conversation so far (empty for a thread never used)."""
        state = self.graph.get_state(thread_config(thread))
        return list((state.values or {}).get("messages", []))

    def rollback(self, thread: str, question_id: str) -> bool:
        """Undo the turn that asked ``question_id`` (see ``stream``): remove that question
        and everything after it, so the thread is as it was before. False when the
        question never reached the thread (nothing to undo)."""
        from langchain_core.messages import RemoveMessage
        from langgraph.graph.message import REMOVE_ALL_MESSAGES

        config = thread_config(thread)
        messages = self.messages(thread)
        ids = [m.id for m in messages]
        if question_id not in ids:
            return False
        kept = messages[: ids.index(question_id)]
        # Replace the whole list: some of the turn's messages may exist only as pending
        # writes of an interrupted step, where RemoveMessage cannot reach.
        self.graph.update_state(
            config, {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *kept]}, as_node="model"
        )
        return True

    @staticmethod
    def _resume_input(approve: bool | Sequence[bool], pending: int) -> Any:
        from langgraph.types import Command

        votes = [approve] * pending if isinstance(approve, bool) else list(approve)
        if len(votes) != pending:
            raise InvalidSettings(f"{pending} tool calls await a decision; got {len(votes)}")
        decisions = [
            {"type": "approve"}
            if ok
            else {"type": "reject", "message": "The user declined. Go on without this call."}
            for ok in votes
        ]
        return Command(resume={"decisions": decisions})

    def _pending(self, thread: str) -> int:
        state = self.graph.get_state(thread_config(thread))
        return len(_pending(state.interrupts))

    def _turn(self, config: RunnableConfig) -> AbstractContextManager[Any]:
        """The store's per-thread turn lock (``ahora.threads``), when it has one."""
        hold = getattr(self.checkpointer, "hold_thread", None)
        return hold(_thread_id(config)) if hold else contextlib.nullcontext()

    def _saved(self, answer: Answer) -> Answer:
        """With ``threads=True``, list the finished turn in ``ahora threads``."""
        if self.threads is not None:
            from ahora.threads import record_turn

            record_turn(self.threads, self.checkpointer, answer)
        return answer

    async def _asaved(self, answer: Answer) -> Answer:
        if self.threads is not None:
            await asyncio.to_thread(self._saved, answer)
        return answer

    def close(self) -> None:
        """Close the saved-threads store (``threads=True``) and the MCP sessions of this
        agent's tools (reopened if a tool is called again)."""
        if self.threads is not None:
            from ahora.threads import close_checkpointer

            close_checkpointer(self.checkpointer)
            self.threads.close()
        from ahora.mcp import close_sessions  # MCP servers this agent's tools opened

        close_sessions(self.tools)

    def ask(self, question: str, *, thread: str | None = None) -> Answer:
        """Run one turn and return the answer (works inside Jupyter's running loop too)."""
        return self._run(self._input(question), self._config(thread))

    async def aask(self, question: str, *, thread: str | None = None) -> Answer:
        """``ask`` for async code (FastAPI, Jupyter's ``await``)."""
        return await self._arun(self._input(question), self._config(thread))

    def resume(self, thread: str, *, approve: bool | Sequence[bool]) -> Answer:
        """Continue a run paused for approval: one decision for all, or one per call."""
        return self._run(self._resume_input(approve, self._pending(thread)), self._config(thread))

    async def aresume(self, thread: str, *, approve: bool | Sequence[bool]) -> Answer:
        """``resume`` for async code."""
        command = self._resume_input(approve, self._pending(thread))
        return await self._arun(command, self._config(thread))

    def stream(
        self, question: str, *, thread: str | None = None, question_id: str | None = None
    ) -> Iterator[Event]:
        """Yield events as the run goes; the last one is ``Finished(answer)``.

        ``question_id`` names the question's message, so that ``rollback`` can undo
        the turn if the caller abandons it.
        """
        return self._stream(self._input(question, question_id), self._config(thread))

    async def astream(self, question: str, *, thread: str | None = None) -> AsyncIterator[Event]:
        """``stream`` for async code."""
        async for event in self._astream(self._input(question), self._config(thread)):
            yield event

    def stream_resume(self, thread: str, *, approve: bool | Sequence[bool]) -> Iterator[Event]:
        """``resume``, yielding events like ``stream``."""
        command = self._resume_input(approve, self._pending(thread))
        return self._stream(command, self._config(thread))

    def _run(self, payload: Any, config: RunnableConfig) -> Answer:
        started = time.monotonic()
        with self._turn(config), _translated_errors():
            values = self.graph.invoke(
                payload, config, context=self.context, durability=self._durability
            )
        # The run's output is the final state: no need to read the checkpoint back.
        interrupts = values.get("__interrupt__", ())
        return self._saved(
            _make_answer(values, interrupts, config, self.model_name, started, self.settings.prices)
        )

    async def _arun(self, payload: Any, config: RunnableConfig) -> Answer:
        started = time.monotonic()
        with self._turn(config), _translated_errors():
            values = await self.graph.ainvoke(
                payload, config, context=self.context, durability=self._durability
            )
        interrupts = values.get("__interrupt__", ())
        return await self._asaved(
            _make_answer(values, interrupts, config, self.model_name, started, self.settings.prices)
        )

    def _stream(self, payload: Any, config: RunnableConfig) -> Iterator[Event]:
        started = time.monotonic()
        builder = EventBuilder()
        yield from builder.start()
        final = _Final()
        with self._turn(config), _translated_errors():
            for mode, chunk in self.graph.stream(
                payload,
                config,
                stream_mode=_STREAM_MODES,
                context=self.context,
                durability=self._durability,
            ):
                final.feed(mode, chunk)
                yield from builder.feed(mode, chunk)
        yield Finished(self._saved(final.answer(self, config, started)))

    async def _astream(self, payload: Any, config: RunnableConfig) -> AsyncIterator[Event]:
        started = time.monotonic()
        builder = EventBuilder()
        for event in builder.start():
            yield event
        final = _Final()
        with self._turn(config), _translated_errors():
            async for mode, chunk in self.graph.astream(
                payload,
                config,
                stream_mode=_STREAM_MODES,
                context=self.context,
                durability=self._durability,
            ):
                final.feed(mode, chunk)
                for event in builder.feed(mode, chunk):
                    yield event
        yield Finished(await self._asaved(final.answer(self, config, started)))


class _Final:
    """The last state and the interrupts of a streamed run, from its own stream."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.interrupts: Sequence[Any] = ()

    def feed(self, mode: str, chunk: Any) -> None:
        if mode == "values" and isinstance(chunk, dict):
            self.values = chunk
        elif mode == "updates" and isinstance(chunk, dict) and "__interrupt__" in chunk:
            self.interrupts = chunk["__interrupt__"]

    def answer(self, agent: Agent, config: RunnableConfig, started: float) -> Answer:
        prices = agent.settings.prices
        return _make_answer(self.values, self.interrupts, config, agent.model_name, started, prices)


def thread_config(thread: str, **configurable: Any) -> RunnableConfig:
    """The LangGraph config of a thread: the one place it is built."""
    return {"configurable": {"thread_id": thread, **configurable}}


def _pending(interrupts: Sequence[Any]) -> list[dict[str, Any]]:
    """Tool calls waiting for approval, from a paused run's interrupts."""
    pending: list[dict[str, Any]] = []
    for intr in interrupts or ():
        value = getattr(intr, "value", None)
        if isinstance(value, dict):
            for req in value.get("action_requests", []):
                pending.append({"name": req.get("name", ""), "args": dict(req.get("args") or {})})
    return pending


def _make_answer(
    values: dict[str, Any],
    interrupts: Sequence[Any],
    config: RunnableConfig,
    model: str,
    started: float,
    prices: Mapping[str, tuple[float, float]],
) -> Answer:
    answer = answer_from_messages(
        list(values.get("messages", [])),
        thread_id=_thread_id(config),
        model=model,
        seconds=time.monotonic() - started,
        prices=prices,
    )
    answer.pending = _pending(interrupts)
    return answer


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
