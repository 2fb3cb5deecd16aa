"""Do not run the same tool with the same arguments twice in one run.

Models stuck in a loop repeat a call whose result they already have. The repeat is
answered with a note pointing at the earlier result instead of running the tool
again, and the budget middleware makes the next model call the last one (no tools:
answer from what was gathered).
This also stops a rejected call (see approvals) from being asked about again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.types import Command

from ahora.folds import ThreadFolds
from ahora.messages import REPEATED_CALL


def same_call(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same tool, same arguments (dict equality: key order does not matter)."""
    return bool(a["name"] == b["name"] and (a.get("args") or {}) == (b.get("args") or {}))


def earlier_call(request: ToolCallRequest) -> bool:
    """Whether this run already made this exact call before this one.

    "Before" is by position (an earlier model turn, or earlier in the same turn), not
    by tool call id: some OpenAI-compatible servers number their calls ``call_0``,
    ``call_1``... afresh every turn, so a repeat can carry the id of the first call.

    Asked before every tool call, so the run's earlier calls are kept per thread
    (``ahora.folds``): when this call is in the run's last reply (nearly always), the
    check is a set lookup plus that reply's earlier calls.
    """
    call = request.tool_call
    messages = (request.state or {}).get("messages", []) if isinstance(request.state, dict) else []
    calls = _CALLS.fold(messages)
    last = calls.last if calls is not None else None
    stop = _index(last, call.get("id")) if last is not None else None
    if calls is None or last is None or stop is None:
        return _scanned(call, messages)
    try:
        key = _key(call)
    except TypeError:  # arguments of an unusual type: compare them one by one
        return _scanned(call, messages)
    return key in calls.before or any(same_call(other, call) for other in last.tool_calls[:stop])


def _key(call: Mapping[str, Any]) -> Hashable:
    """A call's name and arguments as a value that is equal (and hashes alike) exactly
    when ``same_call`` says so; TypeError for arguments that are not JSON-like."""
    return (call["name"], _frozen(call.get("args") or {}))


def _frozen(value: Any) -> Hashable:
    kind = type(value)
    if kind is dict:
        return ("dict", frozenset((k, _frozen(v)) for k, v in value.items()))
    if kind is list:
        return ("list", tuple(map(_frozen, value)))
    if value is None or kind in (str, int, float, bool):
        return value  # type: ignore[no-any-return]
    raise TypeError(kind.__name__)


class _RunCalls:
    """This run's calls, as keys, from its replies before the last; and the last."""

    __slots__ = ("before", "last")

    def __init__(self) -> None:
        self.before: set[Hashable] = set()
        self.last: AIMessage | None = None

    def add(self, messages: Sequence[object]) -> bool:
        for message in messages:
            if isinstance(message, HumanMessage):
                self.before, self.last = set(), None
            elif isinstance(message, AIMessage):
                if self.last is not None:
                    try:
                        self.before.update(map(_key, self.last.tool_calls))
                    except TypeError:
                        return False  # not kept: every check of this run scans instead
                self.last = message
        return True

    def copy(self) -> _RunCalls:
        other = _RunCalls()
        other.before, other.last = set(self.before), self.last
        return other


_CALLS: ThreadFolds[_RunCalls] = ThreadFolds(_RunCalls)


def _scanned(call: Mapping[str, Any], messages: Sequence[object]) -> bool:
    """``earlier_call`` by one pass back from the end to the user's message."""
    call_id = call.get("id")
    # One pass back from the end to the user's message, no copies: the current turn
    # (the latest reply holding this call's id) is nearly always the last reply.
    after: list[AIMessage] = []  # replies after the current turn: earlier only if none is
    found = False
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, HumanMessage):
            break
        if not isinstance(message, AIMessage) or not message.tool_calls:
            continue
        if found:
            calls = message.tool_calls
        else:
            stop = _index(message, call_id)
            if stop is None:
                after.append(message)
                continue
            found, calls = True, message.tool_calls[:stop]
        if any(same_call(other, call) for other in calls):
            return True
    return not found and any(same_call(o, call) for turn in after for o in turn.tool_calls)


def _index(message: AIMessage, call_id: str | None) -> int | None:
    """Position of the call with ``call_id`` in ``message``, or None."""
    for i, other in enumerate(message.tool_calls):
        if other.get("id") == call_id:
            return i
    return None


def _repeat_message(request: ToolCallRequest) -> ToolMessage:
    call = request.tool_call
    return ToolMessage(
        content=(
            f"Not run: {call['name']} was already requested with these same arguments in this "
            "turn; its result (or why it was declined) is above. Use that, try different "
            "arguments, or answer now."
        ),
        tool_call_id=call["id"] or "",
        name=call["name"],
        status="error",
        artifact={"sources": [], REPEATED_CALL: True},
    )


class LoopGuardMiddleware(AgentMiddleware[Any, Any, Any]):
    """Answers a repeated identical tool call with a note instead of running it."""

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return _repeat_message(request) if earlier_call(request) else handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return _repeat_message(request) if earlier_call(request) else await handler(request)
