"""What every built-in tool shares: provenance artifacts and failures as messages.

Tools return ``(text, artifact)`` (LangChain's ``content_and_artifact``). The artifact
is ``{"sources": [Source, ...]}`` so front ends can list sources and fetch times
without parsing text; on failure it also carries ``"error"``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypedDict

from ahora.errors import ToolFailure

__all__ = ["Artifact", "Source", "failures_as_messages", "now_iso", "source"]


class Source(TypedDict):
    url: str
    title: str
    fetched_at: str


class Artifact(TypedDict, total=False):
    sources: list[Source]
    error: str


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def source(url: str, title: str = "") -> Source:
    """A source fetched now; its title on one line (a newline in it could draw a fake
    entry in a list of sources)."""
    return {"url": url, "title": " ".join(title.split()), "fetched_at": now_iso()}


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
