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
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ahora.errors import InvalidProfile

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["make_graph"]


def _warm_up() -> None:
    """Build the default graph now, so the first run does not pay for the imports."""
    from ahora.errors import NoModelConfigured

    with contextlib.suppress(NoModelConfigured):
        _graph(None, None, None)


async def make_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph for this run: ``configurable`` may pick ``model``, ``tools``, ``profile``."""
    return await asyncio.to_thread(_graph, *_choice(config.get("configurable") or {}))


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
    model: str | None, tools: tuple[str, ...] | None, profile: str | None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    from ahora.agent import build_agent
    from ahora.settings import get_settings

    # The server is an edge: settings are read here, once per graph, and reach the
    # tools through the run (ahora.context).
    return build_agent(
        model,
        list(tools) if tools is not None else None,
        profile=profile,
        checkpointer=None,
        settings=get_settings(),
    )


_warm_up()
