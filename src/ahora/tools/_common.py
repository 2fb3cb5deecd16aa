"""What every built-in tool shares: provenance artifacts, failures as messages, and the
run's settings (``Runtime``, ``settings_of``).

Tools return ``(text, artifact)`` (LangChain's ``content_and_artifact``). The artifact
is ``{"sources": [Source, ...]}`` so front ends can list sources and fetch times
without parsing text; on failure it also carries ``"error"``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg
from langgraph.prebuilt import ToolRuntime

from ahora.context import RunContext, settings_of
from ahora.errors import ToolFailure
from ahora.messages import Artifact, Source, now_iso, source

__all__ = [
    "Artifact",
    "Runtime",
    "Source",
    "failures_as_messages",
    "now_iso",
    "settings_of",
    "source",
]

#: A built-in tool's ``runtime`` parameter: LangGraph injects the run's
#: ``ToolRuntime`` (see ``ahora.context``); the model never sees it; None when the
#: tool is called directly.
Runtime = Annotated[ToolRuntime[RunContext, Any] | None, InjectedToolArg()]


def failures_as_messages(
    fn: Callable[..., tuple[str, Artifact]],
) -> Callable[..., tuple[str, Artifact]]:
    """Turn ``ToolFailure`` into ``("Error: ...", {"sources": [], "error": ...})``.

    Unexpected exceptions still propagate: the agent's tool-error middleware
    reports them to the model, and tests see them.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> tuple[str, Artifact]:
        try:
            return fn(*args, **kwargs)
        except ToolFailure as exc:
            return f"Error: {exc}", {"sources": [], "error": str(exc)}

    return wrapper
