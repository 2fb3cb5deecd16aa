"""Tool calls left unanswered by a run that died are answered before the model sees them.

A process killed while a tool runs leaves the thread's last checkpoint ending in an
``AIMessage`` whose tool calls have no ``ToolMessage``. Continuing the thread sends
that history to the model, and OpenAI-style APIs refuse it (every assistant tool
call must be followed by its result). Here each such call gets a note, in the model
request only, saying it never finished; the saved thread keeps what really happened.

A result answers a call only right after the reply that made it: providers and local
servers that number calls per reply reuse ids (``call_0_0`` every turn), so the same id
answered in another turn must not hide a dead call (``messages.answered_calls``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage

from ahora.folds import ThreadFolds
from ahora.messages import NOT_FINISHED, answered_calls


def answer_dangling(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """``messages`` with a note after every tool call that has no result in its own turn
    (``answered_calls``: a later turn reusing the id does not answer it), and without
    tool results that answer no call right before them (APIs refuse those too)."""
    fixed = _fixed(messages)
    return list(messages) if fixed is None else fixed


def _well_formed(messages: Sequence[AnyMessage]) -> bool:
    """Every tool call answered right after its reply, and nothing else answered: one
    pass without copying, as it runs before every model call, resumed from the thread's
    last check (``ahora.folds``) so a step reads only its new messages."""
    checked = _CHECKED.fold(messages)
    return checked is not None and not checked.waiting


class _Answers:
    """The ids the current reply still waits for (None before any reply), while every
    result so far answered a call of the reply right before it."""

    __slots__ = ("waiting",)

    def __init__(self) -> None:
        self.waiting: set[str] | None = None

    def add(self, messages: Sequence[object]) -> bool:
        waiting = self.waiting
        for m in messages:
            if isinstance(m, ToolMessage):
                if waiting is None or m.tool_call_id not in waiting:
                    return False
                waiting.discard(m.tool_call_id)
            elif waiting:
                return False
            else:
                calls = m.tool_calls if isinstance(m, AIMessage) else None
                waiting = {c["id"] or "" for c in calls} if calls else set()
        self.waiting = waiting
        return True

    def copy(self) -> _Answers:
        other = _Answers()
        other.waiting = None if self.waiting is None else set(self.waiting)
        return other


_CHECKED: ThreadFolds[_Answers] = ThreadFolds(_Answers)


def _fixed(messages: Sequence[AnyMessage]) -> list[AnyMessage] | None:
    """``answer_dangling``'s result, or None when there is nothing to change."""
    if _well_formed(messages):
        return None
    answered = answered_calls(messages)
    out: list[AnyMessage] = []
    missing: list[ToolMessage] = []
    calls: set[str] = set()  # the ids a tool result here may answer
    changed = False
    for i, message in enumerate(messages):
        if isinstance(message, ToolMessage):
            if message.tool_call_id not in calls:
                changed = True  # answers no call of its turn: left out
                continue
            calls.discard(message.tool_call_id)
        elif missing:
            out.extend(missing)
            missing, changed = [], True
        if not isinstance(message, ToolMessage):
            calls = set()
        out.append(message)
        if isinstance(message, AIMessage):
            calls = {call["id"] or "" for call in message.tool_calls}
            missing = [
                ToolMessage(
                    content=NOT_FINISHED,
                    tool_call_id=call["id"] or "",
                    name=call["name"],
                    status="error",
                )
                for call in message.tool_calls
                if (call["id"] or "") not in answered[i]
            ]
    if missing:
        out.extend(missing)
        changed = True
    return out if changed else None


def _patched(request: ModelRequest[Any]) -> ModelRequest[Any]:
    fixed = _fixed(request.messages)
    return request if fixed is None else request.override(messages=fixed)


class DanglingToolCallsMiddleware(AgentMiddleware[Any, Any, Any]):
    """Answers unanswered tool calls in the model request; see the module docstring."""

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        return handler(_patched(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        return await handler(_patched(request))
