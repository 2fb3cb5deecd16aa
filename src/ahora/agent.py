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
thread, ``.graph`` is the graph itself.

A run is one value: every run carries one ``RunContext`` (settings, ``Budget``,
deadline, gated tools; ``ahora.context``) that every middleware and tool reads per
call. ``Agent`` builds it when each run starts; a graph driven directly (or by the
LangGraph server) gets the context it was built with, its deadline counted from the
run's start (``middleware/run_context.py``). Build-time values are only defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from ahora.answer import Answer
from ahora.budget import Budget
from ahora.context import RunContext
from ahora.errors import InvalidSettings, InvalidTool
from ahora.events import (
    Event,
    EventBuilder,
    Finished,
    PartialOutputs,
    answer_from_messages,
)
from ahora.messages import SUBAGENT, SUBAGENT_RUNS
from ahora.recipe import Choices, Recipe, resolve_recipe
from ahora.settings import Settings, get_settings
from ahora.tracing import AgentRun, agent_run

if TYPE_CHECKING:
    from langchain.agents.middleware import AgentMiddleware
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer

    from ahora.middleware.tool_finder import ToolFinder
    from ahora.middleware.typed_output import Strategy
    from ahora.threads import ThreadIndex

__all__ = ["Agent", "build_agent", "create_agent", "graph_from_recipe", "thread_config"]

# "values" gives the final state, so a streamed answer needs no read of the checkpoint.
_STREAM_MODES: list[Literal["messages", "updates", "values", "custom"]] = [
    "messages",
    "updates",
    "values",
    "custom",  # a sub-agent's events (``ahora.subagents``)
]


def _tools(
    tools: Sequence[Any] | None,
    settings: Settings,
    model: BaseChatModel | None = None,
) -> list[BaseTool]:
    """Tools as LangChain tools: instances pass, callables are wrapped, names are looked up.

    None means every available tool: the built-ins, installed plugins, local tool files
    (``./tools`` or ``tools_dir``) and MCP servers from the config file; so does ``"*"``
    in a list, less the tools named beside it. An ``Agent``, or a name
    ``agent:PROFILE``, is another agent called as a tool (``ahora.subagents``); a profile
    without a model of its own runs on ``model``.
    """
    from langchain_core.tools import BaseTool, tool

    from ahora.profiles import AGENT_PREFIX, EVERY_TOOL

    if tools is None:
        from ahora.tools.registry import available_tools

        return list(available_tools(settings=settings).values())
    if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence):
        raise InvalidTool("tools must be a list of tools, callables or tool names")
    if EVERY_TOOL in tools:
        from ahora.tools.registry import available_tools

        listed = {getattr(t, "name", t) for t in tools if t != EVERY_TOOL}
        every = [t for n, t in available_tools(settings=settings).items() if n not in listed]
        tools = [x for t in tools for x in (every if t == EVERY_TOOL else [t])]
    out: list[BaseTool] = []
    names: set[str] = set()
    by_name: dict[str, BaseTool] | None = None
    for item in tools:
        if isinstance(item, BaseTool):
            made = item
        elif isinstance(item, Agent):
            made = item.as_tool()
        elif isinstance(item, str) and item.startswith(AGENT_PREFIX):
            profile = item.removeprefix(AGENT_PREFIX)
            made = Agent(
                _model_for(profile, settings, model), profile=profile, settings=settings
            ).as_tool()
        elif isinstance(item, str):
            if by_name is None:
                from ahora.tools.registry import available_tools

                by_name = available_tools(settings=settings)
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


def _model_for(
    profile: str, settings: Settings, model: BaseChatModel | None
) -> BaseChatModel | str | None:
    """A sub-agent's model: its profile's, else the caller's."""
    from ahora.profiles import load_profile

    own = load_profile(profile, settings=settings).model
    return own if own is not None else model


def build_agent(
    model: str | BaseChatModel | None = None,
    tools: Sequence[BaseTool | Callable[..., Any] | str] | None = None,
    *,
    instructions: str | None = None,
    profile: str | None = None,
    max_steps: int | None = None,
    max_tokens: int | None = None,
    max_cost: float | None = None,
    timeout: float | None = None,
    budget: Budget | None = None,
    fallbacks: Sequence[str | BaseChatModel] | None = None,
    approvals: Sequence[str] | None = None,
    checkpointer: Checkpointer | None = None,
    middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
    timezone: str | None = None,
    settings: Settings | None = None,
    recipe: Recipe | None = None,
    name: str = "ahora",
    output: Any = None,
    output_strategy: Strategy = "auto",
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
        timeout: Seconds per run (a wall-clock deadline counted from each run's
            start); the run lands with what it gathered.
        budget: All four limits as one ``Budget`` (instead of the four above).
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
        output: The answer's type (a Pydantic model, dataclass, TypedDict, JSON schema
            dict, or a union): the validated value lands in the state's
            ``structured_response``.
        output_strategy: ``"auto"`` (the provider's native structured output where the
            model supports it, an output tool elsewhere), ``"tool"`` or ``"provider"``.

    The graph carries these as its default ``RunContext``: driven with no context of
    its own (``graph.invoke({"messages": ...})``) each run gets the budget, approvals
    and settings above, the deadline counted from the run's start. A run may pass
    ``context=RunContext(...)`` to use other values.
    """
    s = _settings(settings, timezone)
    choices = _choices(
        budget,
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
    resolved = _recipe(recipe, choices, s)
    return _Parts(resolved, s).graph(
        checkpointer=checkpointer,
        middleware=middleware,
        timezone=timezone,
        name=name,
        output=output if output is not None else resolved.output,
        output_strategy=output_strategy,
    )


create_agent = build_agent
"""``build_agent`` under its first name (not LangChain's ``create_agent``)."""


def _choices(budget: Budget | None, **parts: Any) -> Choices:
    """The caller's choices; a ``Budget`` stands for the four limits at once."""
    if budget is not None:
        if not isinstance(budget, Budget):
            raise InvalidSettings(f"budget must be an ahora.Budget, not {type(budget).__name__}")
        limits = ("max_steps", "max_tokens", "max_cost", "timeout")
        if any(parts[k] is not None for k in limits):
            raise InvalidSettings("pass either budget= or max_steps/max_tokens/max_cost/timeout")
        parts.update(
            max_steps=budget.steps,
            max_tokens=budget.tokens,
            max_cost=budget.cost,
            timeout=budget.seconds,
        )
    return Choices(**parts)


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
    approvals_step: bool | None = None,
    output: Any = None,
    output_strategy: Strategy = "auto",
    find_tool: ToolFinder | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph a recipe describes: resolves the models and tools, checks approvals.

    ``approvals_step`` puts the approval step in the graph even when the recipe gates
    nothing (the server does, so every profile's graph has one shape); by default it
    is there when the recipe gates a tool."""
    return _Parts(recipe, settings).graph(
        checkpointer=checkpointer,
        middleware=middleware,
        timezone=timezone,
        name=name,
        approvals_step=approvals_step,
        output=output,
        output_strategy=output_strategy,
        find_tool=find_tool,
    )


class _Parts:
    """A recipe resolved: the models, the tools and the default run context."""

    def __init__(self, recipe: Recipe, settings: Settings) -> None:
        from ahora.models import resolve_model

        self.recipe = recipe
        self.settings = settings
        self.model = resolve_model(recipe.model, settings=settings)
        self.backups = [resolve_model(m, settings=settings) for m in recipe.fallbacks]
        self.tools = _tools(recipe.tools, settings, self.model)
        gated = list(recipe.approvals)
        known = {t.name for t in self.tools}
        for tool_name in gated:
            if tool_name not in known:
                raise InvalidTool(
                    f"approvals names {tool_name!r}, which is not one of the agent's tools: "
                    + ", ".join(sorted(known))
                )
        gated += [t.name for t in self.tools if (t.metadata or {}).get("requires_approval")]
        self.context = RunContext(
            settings=settings,
            budget=recipe.budget,
            approvals=frozenset(gated),
            delegates=frozenset(t.name for t in self.tools if SUBAGENT in (t.metadata or {})),
        )

    def graph(
        self,
        *,
        checkpointer: Checkpointer | None,
        middleware: Sequence[AgentMiddleware[Any, Any, Any]],
        timezone: str | None,
        name: str,
        approvals_step: bool | None = None,
        output: Any = None,
        output_strategy: Strategy = "auto",
        find_tool: ToolFinder | None = None,
    ) -> CompiledStateGraph[Any, Any, Any, Any]:
        return build_graph(
            self.model,
            self.tools,
            instructions=self.recipe.instructions,
            context=self.context,
            fallbacks=self.backups,
            checkpointer=checkpointer,
            middleware=middleware,
            timezone=timezone or self.settings.timezone,
            name=name,
            approvals_step=approvals_step,
            output=output,
            output_strategy=output_strategy,
            find_tool=find_tool,
        )


def build_graph(
    chat_model: BaseChatModel,
    tool_list: list[BaseTool],
    *,
    instructions: str | None,
    context: RunContext,
    fallbacks: Sequence[BaseChatModel] = (),
    checkpointer: Checkpointer | None,
    middleware: Sequence[AgentMiddleware[Any, Any, Any]],
    timezone: str | None,
    name: str,
    approvals_step: bool | None = None,
    output: Any = None,
    output_strategy: Strategy = "auto",
    find_tool: ToolFinder | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph from already-resolved parts (``graph_from_recipe`` validates first).

    ``context`` is the default run context: what a run gets when it brings none. The
    values the middleware are built with are only defaults for a request without one.
    ``find_tool`` gives the tool for a call this graph does not hold (the server's:
    ``middleware/tool_finder.py``).
    """
    from langchain.agents import create_agent as lc_create_agent

    from ahora import middleware as mw
    from ahora.middleware.deadline import DeadlineMiddleware
    from ahora.prompt import user_timezone

    settings, budget = context.settings, context.budget
    # First in the list is outermost.
    # Every call gets the run's context (RunContextMiddleware), which the others read.
    # Model side: run context -> prompt -> unanswered calls of a killed run -> empty-reply retry ->
    #   malformed-call repair -> budgets -> deadline -> fallback models -> context window
    #   -> model.
    # Tool side: cap and fence -> malformed-call answer -> deadline -> loop guard ->
    #   timeout -> error capture -> tool.
    gates = bool(context.approvals) if approvals_step is None else approvals_step
    stack: list[AgentMiddleware[Any, Any, Any]] = [
        mw.RunContextMiddleware(context, gates=gates),
        mw.DatePromptMiddleware(instructions, user_timezone(timezone), zone_name=settings.timezone),
        mw.DanglingToolCallsMiddleware(),
        mw.LoneSurrogatesMiddleware(),  # no \ud800 from a model or a tool enters the state
        mw.EmptyReplyMiddleware(),
        mw.ToolOutputMiddleware(settings.tool_output_chars),
        mw.InvalidToolCallsMiddleware(),
        mw.ToolCallCapMiddleware(),  # at most max_tool_calls_per_reply run from one reply
        mw.BudgetMiddleware(
            budget.steps, max_tokens=budget.tokens, max_cost=budget.cost, prices=settings.prices
        ),
        DeadlineMiddleware(),  # inside the budget: cuts the call in flight at the deadline
        mw.LoopGuardMiddleware(),
        mw.ToolTimeoutMiddleware(settings.tool_timeout),
        mw.ToolErrorsMiddleware(),
    ]
    if find_tool is not None:  # outermost: every wrapper sees the tool it finds
        from ahora.middleware.tool_finder import ToolFinderMiddleware

        stack.insert(0, ToolFinderMiddleware(find_tool))
    response_format = None
    if output is not None:
        # A typed answer: LangChain's strategy, validated and retried within the budget
        # (inside the deadline, so the retries share the run's time).
        from ahora.middleware.typed_output import TypedOutputMiddleware, response_format_for

        response_format = response_format_for(output, output_strategy, chat_model, tool_list)
        stack.append(TypedOutputMiddleware())
    if fallbacks:
        stack.append(mw.ModelFallbackMiddleware(fallbacks))
    # Innermost, so each model (a fallback too) is sent a view that fits its own window.
    stack.append(mw.ContextWindowMiddleware(settings.models))
    # One LangChain hook per side for all of the above (see middleware/combined.py):
    # LangChain traces each hook separately, which costs ~0.1 ms a hook a step.
    from ahora.middleware.combined import combine
    from ahora.middleware.tracing import traced

    # Timing in the messages and OpenTelemetry spans (traced); innermost, the tools as
    # sent (OfferedTools, for export: its state travels with the combined hook).
    stack = combine([*traced(stack), mw.OfferedToolsMiddleware()])
    # Gating nothing unless the run's context names tools (middleware/approvals.py). A
    # node after every model call, so only where approvals may happen: a recipe that
    # gates a tool, and every graph of the server (one shape for every profile).
    if gates:
        stack.append(mw.ApprovalMiddleware())
    stack.extend(middleware)
    return lc_create_agent(
        chat_model,
        tool_list,
        middleware=stack,
        response_format=response_format,
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
        budget: Budget | None = None,
        fallbacks: Sequence[str | BaseChatModel] | None = None,
        approvals: Sequence[str] | None = None,
        checkpointer: Checkpointer | None = None,
        threads: bool = False,
        middleware: Sequence[AgentMiddleware[Any, Any, Any]] = (),
        timezone: str | None = None,
        settings: Settings | None = None,
        recipe: Recipe | None = None,
        output: Any = None,
        output_strategy: Strategy = "auto",
    ) -> None:
        """``threads=True`` saves conversations in the terminal's store (``ahora threads``;
        ``ahora.threads``) instead of memory: ``checkpointer`` is then that store.
        ``budget`` gives the four limits as one ``Budget`` (instead of ``max_steps``,
        ``max_tokens``, ``max_cost`` and ``timeout``); ``ask(..., budget=...)`` changes
        them for one call. ``output`` is the answer's type for every call (a Pydantic
        model, dataclass, TypedDict, JSON schema dict or a union; ``ask(...,
        output=...)`` asks one call for another): ``answer.output`` holds the validated
        value."""
        from langgraph.checkpoint.memory import InMemorySaver

        from ahora.models import model_label, resolve_model
        from ahora.threads.memory_saver import BoundedMemorySaver

        self.settings = _settings(settings, timezone)
        choices = _choices(
            budget,
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
        self.threads: ThreadIndex | None = None
        if threads:
            if checkpointer is not None:
                raise InvalidSettings("give threads=True or a checkpointer, not both")
            from ahora.threads import ThreadIndex, open_checkpointer

            checkpointer = open_checkpointer(self.settings)
            self.threads = ThreadIndex.for_settings(self.settings)
        # Without a store, at most ``settings.memory_threads`` conversations stay in
        # memory (the least recently used go first), so an embedding app stays bounded.
        # Such an agent, called as a tool, keeps its runs in its caller's store instead.
        self._store_chosen = checkpointer is not None
        self._twins: dict[int, Agent] = {}
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
        self._parts = _Parts(replace(self.recipe, model=self.model), self.settings)
        self.context = self._parts.context
        """The default run context; each run gets its own, with its deadline."""
        self._middleware = middleware
        self._timezone = timezone
        self.output = output if output is not None else self.recipe.output
        self.output_strategy: Strategy = output_strategy
        self._graphs: dict[Any, CompiledStateGraph[Any, Any, Any, Any]] = {}
        self.graph = self._graph_for(self.output)
        """The agent's graph (with its default ``output``)."""

    def _kept_in(self, checkpointer: Any) -> Agent:
        """This agent with its runs kept in ``checkpointer`` (a caller's store, for a
        sub-agent: ``ahora.subagents``), unless it was given a store of its own; the
        twin is made once per store and shares everything else."""
        from langgraph.checkpoint.memory import InMemorySaver

        if self._store_chosen or checkpointer is self.checkpointer:
            return self
        twins = self._twins
        twin = twins.get(id(checkpointer))
        if twin is None or twin.checkpointer is not checkpointer:
            twin = copy.copy(self)
            twin.checkpointer = checkpointer
            twin._store_chosen = True
            twin._twins = {}
            twin._durability = "exit" if isinstance(checkpointer, InMemorySaver) else "sync"
            twin._graphs = {}
            twin.graph = twin._graph_for(twin.output)
            if len(twins) >= _GRAPHS_KEPT:
                twins.pop(next(iter(twins)))
            twins[id(checkpointer)] = twin
        return twin

    def _graph_for(self, output: Any) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The graph asking for ``output`` (one per answer type, built once; all share
        the checkpointer, so a thread goes on whatever each call asks for)."""
        key = _output_key(output)
        graph = self._graphs.get(key)
        if graph is None:
            if len(self._graphs) >= _GRAPHS_KEPT:
                self._graphs.pop(next(k for k in self._graphs if k != _output_key(self.output)))
            graph = self._parts.graph(
                checkpointer=self.checkpointer,
                middleware=self._middleware,
                timezone=self._timezone,
                name="ahora",
                output=output,
                output_strategy=self.output_strategy,
            )
            self._graphs[key] = graph
        return graph

    def _graph_of_call(self, output: Any) -> CompiledStateGraph[Any, Any, Any, Any]:
        return self.graph if output is None else self._graph_for(output)

    @property
    def budget(self) -> Budget:
        """The agent's limits per run (``ask(..., budget=...)`` changes them for one)."""
        return self.context.budget

    @property
    def timeout(self) -> float | None:
        """Seconds per run, or None: the budget's ``seconds``."""
        return self.context.budget.seconds

    def run_context(
        self, budget: Budget | None = None, deadline: float | None = None
    ) -> RunContext:
        """The context for a run starting now: the agent's (or ``budget``'s) limits,
        the deadline counted from this moment (or ``deadline``, if that is sooner)."""
        if budget is not None and not isinstance(budget, Budget):
            raise InvalidSettings(f"budget must be an ahora.Budget, not {type(budget).__name__}")
        context = self.context if budget is None else replace(self.context, budget=budget)
        started = context.started()
        if deadline is not None and (started.deadline is None or deadline < started.deadline):
            started = replace(started, deadline=deadline)
        return started

    def as_tool(self, name: str | None = None, description: str | None = None) -> BaseTool:
        """This agent as a tool another agent can call with a ``task``: one budget shared
        with the caller, its sources in the caller's answer (``ahora.subagents``). The
        name and description default to the profile's."""
        from ahora.subagents import agent_tool

        return agent_tool(self, name=name, description=description)

    @property
    def tools(self) -> list[BaseTool]:
        node = self.graph.nodes.get("tools")
        bound = getattr(node, "bound", None)
        return list(getattr(bound, "tools_by_name", {}).values())

    @staticmethod
    def _config(thread: str | None) -> RunnableConfig:
        """A run's config: the thread (a new one when None)."""
        return thread_config(thread or str(uuid.uuid4()))

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

    def _resume_input(self, thread: str, approve: bool | Sequence[bool] | None) -> Any:
        """What resumes ``thread``: the decisions on its paused calls, or, with no
        ``approve`` and no paused call, nothing: LangGraph then goes on from the last
        saved step of a run that stopped midway (its process died)."""
        from langgraph.types import Command

        pending = self._pending(thread)
        if approve is None:
            if pending:
                raise InvalidSettings(
                    f"{pending} tool calls await a decision: resume(thread, approve=...)"
                )
            if not self.graph.get_state(thread_config(thread)).next:
                raise InvalidSettings(f"thread {thread!r} has no unfinished run to go on with")
            return None
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

    def _traced(self, config: RunnableConfig, payload: Any) -> AgentRun:
        """The run's ``invoke_agent`` span (``ahora.tracing``; a no-op when off)."""
        profile = self.recipe.profile
        name = profile.name if profile is not None else "ahora"  # a sub-agent's own name
        return agent_run(config, payload, agent=name, model=self.model_name)

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
        agent's tools and of the agents it calls as tools (reopened if a tool is called
        again; those agents' own stores are theirs to close)."""
        if self.threads is not None:
            from ahora.threads import close_checkpointer

            close_checkpointer(self.checkpointer)
            self.threads.close()
        self._close_sessions(set())

    def _close_sessions(self, seen: set[int]) -> None:
        from ahora.mcp import close_sessions  # MCP servers this agent's tools opened

        seen.add(id(self))
        tools = self.tools
        close_sessions(tools)
        for t in tools:
            called = (t.metadata or {}).get(SUBAGENT_RUNS)
            if isinstance(called, Agent) and id(called) not in seen:
                called._close_sessions(seen)

    def ask(
        self,
        question: str,
        *,
        thread: str | None = None,
        budget: Budget | None = None,
        output: Any = None,
        deadline: float | None = None,
    ) -> Answer:
        """Run one turn and return the answer (works inside Jupyter's running loop too).

        ``budget`` replaces the agent's limits for this call; ``output`` asks this call
        for a typed answer (``answer.output``) instead of the agent's ``output``;
        ``deadline`` (a ``time.time()``) makes the run land by then at the latest."""
        run = _Run(self, budget, output, deadline)
        return self._run(self._input(question), self._config(thread), run)

    async def aask(
        self,
        question: str,
        *,
        thread: str | None = None,
        budget: Budget | None = None,
        output: Any = None,
        deadline: float | None = None,
    ) -> Answer:
        """``ask`` for async code (FastAPI, Jupyter's ``await``)."""
        run = _Run(self, budget, output, deadline)
        return await self._arun(self._input(question), self._config(thread), run)

    def resume(
        self,
        thread: str,
        *,
        approve: bool | Sequence[bool] | None = None,
        budget: Budget | None = None,
        output: Any = None,
    ) -> Answer:
        """Continue a run paused for approval: one decision for all, or one per call.
        Without ``approve``, continue a run that stopped midway (its process was killed)
        from its last saved step: the steps it finished are not done again. The time
        limit counts from the resume; ``output`` as the paused call asked."""
        command = self._resume_input(thread, approve)
        return self._run(command, self._config(thread), _Run(self, budget, output))

    async def aresume(
        self,
        thread: str,
        *,
        approve: bool | Sequence[bool] | None = None,
        budget: Budget | None = None,
        output: Any = None,
    ) -> Answer:
        """``resume`` for async code."""
        command = self._resume_input(thread, approve)
        return await self._arun(command, self._config(thread), _Run(self, budget, output))

    def stream(
        self,
        question: str,
        *,
        thread: str | None = None,
        question_id: str | None = None,
        budget: Budget | None = None,
        output: Any = None,
        deadline: float | None = None,
    ) -> Iterator[Event]:
        """Yield events as the run goes; the last one is ``Finished(answer)``.

        ``question_id`` names the question's message, so that ``rollback`` can undo
        the turn if the caller abandons it. With a typed ``output``, ``PartialOutput``
        events carry the value as it is written. Another agent's events, when this one
        calls it as a tool, come wrapped in ``SubagentEvent``.
        """
        payload = self._input(question, question_id)
        run = _Run(self, budget, output, deadline)
        return self._stream(payload, self._config(thread), run)

    async def astream(
        self,
        question: str,
        *,
        thread: str | None = None,
        budget: Budget | None = None,
        output: Any = None,
        deadline: float | None = None,
    ) -> AsyncIterator[Event]:
        """``stream`` for async code."""
        run = _Run(self, budget, output, deadline)
        async for event in self._astream(self._input(question), self._config(thread), run):
            yield event

    def stream_resume(
        self,
        thread: str,
        *,
        approve: bool | Sequence[bool] | None = None,
        budget: Budget | None = None,
        output: Any = None,
        deadline: float | None = None,
    ) -> Iterator[Event]:
        """``resume``, yielding events like ``stream``."""
        command = self._resume_input(thread, approve)
        run = _Run(self, budget, output, deadline)
        return self._stream(command, self._config(thread), run)

    async def astream_resume(
        self,
        thread: str,
        *,
        approve: bool | Sequence[bool] | None = None,
        budget: Budget | None = None,
        output: Any = None,
        deadline: float | None = None,
    ) -> AsyncIterator[Event]:
        """``stream_resume`` for async code."""
        command = self._resume_input(thread, approve)
        run = _Run(self, budget, output, deadline)
        async for event in self._astream(command, self._config(thread), run):
            yield event

    def _run(self, payload: Any, config: RunnableConfig, run: _Run) -> Answer:
        started = time.monotonic()
        with self._traced(config, payload) as trace, self._turn(config), _translated_errors():
            values = run.graph.invoke(
                payload, trace.config, context=run.context, durability=self._durability
            )
        # The run's output is the final state: no need to read the checkpoint back.
        interrupts = values.get("__interrupt__", ())
        return self._saved(trace.finish(run.answer(values, interrupts, config, started)))

    async def _arun(self, payload: Any, config: RunnableConfig, run: _Run) -> Answer:
        started = time.monotonic()
        with self._traced(config, payload) as trace, self._turn(config), _translated_errors():
            values = await run.graph.ainvoke(
                payload, trace.config, context=run.context, durability=self._durability
            )
        interrupts = values.get("__interrupt__", ())
        return await self._asaved(trace.finish(run.answer(values, interrupts, config, started)))

    def _stream(self, payload: Any, config: RunnableConfig, run: _Run) -> Iterator[Event]:
        started = time.monotonic()
        builder = EventBuilder()
        yield from builder.start()
        final = _Final()
        partials = run.partials()
        with self._traced(config, payload) as trace, self._turn(config), _translated_errors():
            for mode, chunk in run.graph.stream(
                payload,
                trace.config,
                stream_mode=_STREAM_MODES,
                context=run.context,
                durability=self._durability,
            ):
                final.feed(mode, chunk)
                yield from builder.feed(mode, chunk)
                if partials is not None:
                    yield from partials.feed(mode, chunk)
        yield Finished(
            self._saved(trace.finish(run.answer(final.values, final.interrupts, config, started)))
        )

    async def _astream(
        self, payload: Any, config: RunnableConfig, run: _Run
    ) -> AsyncIterator[Event]:
        started = time.monotonic()
        builder = EventBuilder()
        for event in builder.start():
            yield event
        final = _Final()
        partials = run.partials()
        with self._traced(config, payload) as trace, self._turn(config), _translated_errors():
            async for mode, chunk in run.graph.astream(
                payload,
                trace.config,
                stream_mode=_STREAM_MODES,
                context=run.context,
                durability=self._durability,
            ):
                final.feed(mode, chunk)
                for event in builder.feed(mode, chunk):
                    yield event
                for event in partials.feed(mode, chunk) if partials is not None else ():
                    yield event
        yield Finished(
            await self._asaved(
                trace.finish(run.answer(final.values, final.interrupts, config, started))
            )
        )


_GRAPHS_KEPT = 8
"""Graphs an ``Agent`` keeps, one per answer type asked for (the default one stays)."""


def _output_key(output: Any) -> Any:
    """A hashable key for an answer type (a JSON schema dict by its text)."""
    if isinstance(output, dict):
        import json

        return ("json", json.dumps(output, sort_keys=True, default=str))
    return output


class _Run:
    """One call's run-scoped choices: its context (limits, deadline) and its graph."""

    def __init__(
        self, agent: Agent, budget: Budget | None, output: Any, deadline: float | None = None
    ) -> None:
        self.context = agent.run_context(budget, deadline)
        self.graph = agent._graph_of_call(output)
        self.output = output if output is not None else agent.output
        self.typed = self.output is not None
        self.model_name = agent.model_name
        self.prices = agent.settings.prices

    def answer(
        self,
        values: dict[str, Any],
        interrupts: Sequence[Any],
        config: RunnableConfig,
        started: float,
    ) -> Answer:
        """The run's ``Answer`` from its final state (and a paused run's interrupts)."""
        answer = answer_from_messages(
            list(values.get("messages", [])),
            thread_id=_thread_id(config),
            model=self.model_name,
            seconds=time.monotonic() - started,
            prices=self.prices,
        )
        answer.pending = _pending(interrupts)
        if self.typed:  # else a structured_response in the state is an earlier turn's
            answer.output = values.get("structured_response")
            answer.output_error = _output_error(answer.messages) if answer.output is None else None
        return answer

    def partials(self) -> PartialOutputs | None:
        """What makes ``PartialOutput`` events, for a run asked for a typed answer."""
        return PartialOutputs(self.output) if self.typed else None


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


def _output_error(messages: Sequence[Any]) -> str | None:
    """Why the run's last reply is not the typed answer asked for, if it says."""
    from langchain_core.messages import AIMessage

    from ahora.messages import OUTPUT_ERROR

    for message in reversed(messages):
        if isinstance(message, AIMessage):
            error = message.response_metadata.get(OUTPUT_ERROR)
            return str(error) if error else None
    return None


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
