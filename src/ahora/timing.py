"""What a run records about its own timing, in the messages themselves.

Written by ``middleware/tracing.py``, read by ``ahora.timeline`` (the terminal
waterfall and the notebook chart): both import this module and neither imports the
other. The record lives in ``response_metadata`` under ``TIMING``, so it is saved with
the thread and a timeline can be drawn later without any tracing backend:

- on each ``AIMessage`` the model returned, a ``ModelTiming``: wall-clock start and
  end (``time.time()``), the model that answered, and the attempts that failed before
  it (a fallback answered);
- on each ``ToolMessage`` a tool call produced, a ``ToolTiming``: start, end, outcome
  and the size in bytes of the result the model was given.

Token counts are not copied: they are the message's own ``usage_metadata``.
"""

from __future__ import annotations

from typing import Literal, TypedDict

__all__ = ["TIMING", "FailedAttempt", "ModelTiming", "Outcome", "ToolTiming"]

TIMING = "ahora_timing"
"""``response_metadata`` key of a model reply's ``ModelTiming`` or a tool result's
``ToolTiming``."""

Outcome = Literal["ok", "error", "repeated"]
"""A tool call's outcome: it ran, it failed (or was cut), or the loop guard answered."""


class FailedAttempt(TypedDict):
    model: str
    start: float
    end: float
    error: str  # the exception's type name


class ModelTiming(TypedDict):
    start: float
    end: float
    model: str  # the model that answered (a fallback, when ``failed`` is not empty)
    failed: list[FailedAttempt]


class ToolTiming(TypedDict):
    start: float
    end: float
    outcome: Outcome
    bytes: int
