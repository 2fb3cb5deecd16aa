"""The agent graph for LangGraph's server (``langgraph dev``, LangGraph Platform).

``langgraph.json`` at the repository root names :func:`make_graph`::

    pip install 'ahora[server]'
    langgraph dev --no-browser --port 2024

The server calls the factory for every run (and whenever it reads the assistant's
schemas) with the run's config. The model comes from the environment as everywhere
in ahora (``AHORA_MODEL``, ``OPENAI_API_KEY`` ...); a run or an assistant may choose
another in its config, ``{"configurable": {"model": "openai:gpt-4.1", "tools":
["weather", "clock"], "profile": "researcher"}}``. The graph is built without a
checkpointer: the server brings its own persistence, and threads live there.

The server is the operator's:

* **Limits.** The operator's budget (``AHORA_MAX_STEPS``, ``AHORA_TIMEOUT`` ... or
  the profile's) applies to every run, the deadline counted from the run's start; a
  client may only tighten it, with ``max_steps``, ``max_tokens``, ``max_cost`` or
  ``timeout`` in the run's ``context`` or ``configurable`` (the lower value wins).
* **Tools.** A run gets the built-in and plugin tools (or its profile's; ``*`` there
  is this served set); local tool files, MCP tools and ``search_docs`` (the operator's
  own documents) only when the operator names them in ``AHORA_SERVER_TOOLS``. Another
  agent, ``agent:NAME``, is served when every tool it would get is (``agent:researcher``
  only searches and reads). A client choosing ``tools`` picks among those.
* **One graph shape.** Every profile's graph has the same nodes (approvals are
  decided per run, ``middleware/approvals.py``), so a thread paused by a run that
  chose its profile in its own config reads and resumes the same from any config.

Building a graph costs tens of milliseconds (and choosing a model may ask a server
which models it has), so graphs are built in a worker thread, off the server's event
loop, and kept per choice of model, tools and profile. The default graph is built
when the server loads this module, at startup, so the first run does not wait for
LangChain and the provider's SDK to import (about two seconds). With no model in the
environment that is skipped: runs must then name one in ``configurable.model``; a
model that is configured but unusable stops the server at startup with its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ahora.errors import InvalidProfile, InvalidTool
from ahora.profiles import AGENT_PREFIX, EVERY_TOOL

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool
    from langgraph.graph.state import CompiledStateGraph

    from ahora.middleware.tool_finder import ToolFinder
    from ahora.settings import Settings

__all__ = ["make_graph", "served_tools"]


def _warm_up() -> None:
    """Build the default graph now, so the first run does not pay for the imports."""
    from ahora.errors import NoModelConfigured

    with contextlib.suppress(NoModelConfigured):
        _graph(None, None, None)


async def make_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph for this run: ``configurable`` may pick ``model``, ``tools``, ``profile``
    and ``output`` (a JSON schema: the run's output then has the validated value in
    ``structured_response``)."""
    configurable = config.get("configurable") or {}
    return await asyncio.to_thread(_graph, *_choice(configurable), _output(configurable))


def _output(configurable: Mapping[str, Any]) -> str | None:
    """The run's answer schema, as canonical JSON text (graphs are kept per schema)."""
    schema = configurable.get("output")
    if schema is None:
        return None
    from ahora.schemas import check_json_schema

    return json.dumps(check_json_schema(schema, "configurable.output"), sort_keys=True)


def _choice(
    configurable: Mapping[str, Any],
) -> tuple[str | None, tuple[str, ...] | None, str | None]:
    model = configurable.get("model") or None
    tools = configurable.get("tools")
    profile = configurable.get("profile") or None
    if profile and not re.fullmatch(r"[A-Za-z0-9_-]+", str(profile)):
        # A client over HTTP may name a profile, never point at a file on the server.
        raise InvalidProfile(f"profile must be a profile name, not a path: {profile!r}")
    return (
        str(model) if model else None,
        tuple(str(t) for t in tools) if isinstance(tools, list | tuple) else None,
        str(profile) if profile else None,
    )


@functools.lru_cache(maxsize=16)
def _graph(
    model: str | None,
    tools: tuple[str, ...] | None,
    profile: str | None,
    output: str | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    from ahora.agent import graph_from_recipe
    from ahora.recipe import Choices, resolve_recipe
    from ahora.settings import get_settings

    # The server is an edge: settings are read here, once per graph, and reach every
    # middleware and tool through the run (ahora.context).
    settings = get_settings()
    served = served_tools(settings)
    if tools is not None:
        refused = [t for t in tools if t not in served and t != EVERY_TOOL]
        if refused:
            raise InvalidTool(
                f"this server does not offer {', '.join(map(repr, refused))}; "
                f"it offers: {', '.join(served)}"
            )
    recipe = resolve_recipe(Choices(model=model, tools=tools, profile=profile), settings)
    if recipe.tools is None:  # neither the client nor the profile chose: the served set
        recipe = replace(recipe, tools=(EVERY_TOOL,))
    plain = [t for t in served if not t.startswith(AGENT_PREFIX)]
    chosen = [t for t in recipe.tools or () if t != EVERY_TOOL]
    if EVERY_TOOL in (recipe.tools or ()):  # "*" here is the served set, not all tools
        recipe = replace(recipe, tools=(*(t for t in plain if t not in chosen), *chosen))
    beyond = [t for t in chosen if isinstance(t, str) and t.startswith(AGENT_PREFIX)]
    beyond = [t for t in beyond if t not in served]
    if beyond:  # a profile's agent with tools the server does not offer
        raise InvalidTool(
            f"this server does not offer {', '.join(map(repr, beyond))}: it uses tools "
            f"beyond those offered ({', '.join(plain)})"
        )
    return graph_from_recipe(
        recipe,
        settings,
        checkpointer=None,
        approvals_step=True,
        output=json.loads(output) if output is not None else recipe.output,
        find_tool=_finder(settings, served, recipe.model),
    )


def _finder(settings: Settings, served: list[str], model: Any) -> ToolFinder:
    """Every served tool by name, for a call this graph does not hold: one left paused
    by a run whose config chose another profile, resumed here without that config
    (``middleware/tool_finder.py``). Plain tools first, then ``agent:NAME``."""
    from ahora.agent import _tools
    from ahora.models import resolve_model

    @functools.cache
    def find(name: str) -> BaseTool | None:
        for listed in (name, f"{AGENT_PREFIX}{name}"):
            if listed in served:
                made = _tools([listed], settings, resolve_model(model, settings=settings))
                return made[0]
        return None

    return find


def served_tools(settings: Settings) -> list[str]:
    """The tools a client of the server may use: built-ins and installed plugins,
    whatever the operator names in ``server_tools`` (local files, MCP, ``search_docs``),
    and ``agent:NAME`` for each profile whose tools (its agents' too) are all of those."""
    plain = _plain_served(settings)
    return [*plain, *(f"{AGENT_PREFIX}{name}" for name in _servable_agents(settings, plain))]


def _servable_agents(settings: Settings, served: list[str]) -> list[str]:
    """Profiles a served graph may call as ``agent:NAME``: each tool they (and the
    agents they call) would get is served; ``*`` or no list there means every available
    tool, as a sub-agent gets them."""
    from ahora.profiles import EVERY_TOOL, delegates, list_profiles, load_profile
    from ahora.tools.registry import load_tools

    every = list(load_tools(settings=settings).tools)
    verdicts: dict[str, bool] = {}

    def servable(name: str) -> bool:
        if name not in verdicts:
            verdicts[name] = False  # profiles load refusing cycles; this guards the walk
            try:
                profile = load_profile(name, settings=settings)
            except InvalidProfile:
                return False
            listed = every if profile.tools is None else list(profile.tools)
            names = [*(every if EVERY_TOOL in listed else []), *listed]
            plain = [n for n in names if n != EVERY_TOOL and not n.startswith(AGENT_PREFIX)]
            verdicts[name] = all(n in served for n in plain) and all(
                servable(d) for d in delegates(profile)
            )
        return verdicts[name]

    return [info.name for info in list_profiles(settings) if not info.error and servable(info.name)]


def _plain_served(settings: Settings) -> list[str]:
    from ahora.tools.registry import load_tools

    found = load_tools(settings=settings)
    named = set(settings.server_tools)
    unknown = sorted(named - set(found.tools))
    if unknown:
        raise InvalidTool(
            f"AHORA_SERVER_TOOLS names {', '.join(map(repr, unknown))}, which no tool "
            f"source provides; available: {', '.join(sorted(found.tools))}"
        )
    return [
        info.name
        for info in found.infos
        if info.origin == "builtin" or info.origin.startswith("plugin:") or info.name in named
    ]


_warm_up()
