"""Typed events of a run, built from LangGraph's stream modes.

One producer, three consumers: the terminal renderer, the notebook display and the
HTTP server all read these same small objects.

    StepStarted -> Token* -> ToolCalled* -> ToolFinished* -> StepStarted -> ... -> Finished

Another agent called as a tool (``ahora.subagents``) streams its own events while the
call runs; they arrive wrapped in ``SubagentEvent`` (which agent, which call started it),
between the ``ToolCalled`` and the ``ToolFinished`` of that call.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ahora.answer import Answer, ToolCallRecord, Usage
from ahora.messages import (
    STOPPED_EARLY,
    SUBRUN,
    content_text,
    run_stats,
    shown_args,
    this_run,
    unfence,
)
from ahora.safe_text import inert_markdown, no_images

if TYPE_CHECKING:
    from ahora.messages import Source

__all__ = [
    "ApprovalRequested",
    "Event",
    "Finished",
    "PartialOutput",
    "PartialOutputs",
    "StepStarted",
    "SubagentEvent",
    "Token",
    "ToolCalled",
    "ToolFinished",
    "UsageReported",
]


def _args(args: dict[str, Any]) -> str:
    return _md(", ".join(f"{k}={v!r}" for k, v in args.items()))


def _md(text: str) -> str:
    """Outside text (tool output, model arguments) made inert for Markdown/HTML."""
    escaped = html.escape(text).replace("`", "&#96;").replace("]", "&#93;")  # no links
    return no_images(escaped.replace("\n", " "))


# Each event has ``_repr_markdown_`` so that ``for e in agent.stream(...): display(e)``
# reads well in a notebook. Text that came from outside (pages, tool output, the
# model's arguments) is escaped: Jupyter trusts the HTML in fresh outputs.


@dataclass(frozen=True, slots=True)
class StepStarted:
    """The model is about to be called for the ``step``-th time in this run."""

    step: int

    def _repr_markdown_(self) -> str:
        return f"*step {self.step}*"


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of the answer's text as the model writes it."""

    text: str

    def _repr_markdown_(self) -> str:
        return inert_markdown(self.text)


@dataclass(frozen=True, slots=True)
class ToolCalled:
    call_id: str
    name: str
    args: dict[str, Any]

    def _repr_markdown_(self) -> str:
        return f"→ <code>{_md(self.name)}({_args(self.args)})</code>"


@dataclass(frozen=True, slots=True)
class ToolFinished:
    call_id: str
    name: str
    preview: str
    error: str | None = None
    sources: list[Source] = field(default_factory=list)
    seconds: float = 0.0

    def _repr_markdown_(self) -> str:
        mark = "✗" if self.error else "✓"
        found = f" · {len(self.sources)} sources" if self.sources else ""
        detail = _md(self.error or self.preview)
        return f"{mark} <code>{_md(self.name)}</code> · {self.seconds:.1f} s{found} — {detail}"


@dataclass(frozen=True, slots=True)
class UsageReported:
    """Tokens used by one model call."""

    input_tokens: int
    output_tokens: int

    def _repr_markdown_(self) -> str:
        return f"*{self.input_tokens:,} + {self.output_tokens:,} tokens*"


@dataclass(frozen=True, slots=True)
class ApprovalRequested:
    """The run paused: a tool call waits for a human yes or no."""

    call_id: str
    name: str
    args: dict[str, Any]

    def _repr_markdown_(self) -> str:
        call = f"<code>{_md(self.name)}({_args(self.args)})</code>"
        return f"⏸ {call} needs approval (`agent.resume(...)`)"


@dataclass(frozen=True, slots=True)
class Finished:
    answer: Answer

    def _repr_markdown_(self) -> str:
        return self.answer._repr_markdown_()


@dataclass(frozen=True, slots=True)
class PartialOutput:
    """The typed answer as far as the model has written it: validated as far as it goes
    (a model instance once the fields so far fit the type, else the parsed JSON)."""

    value: Any

    def _repr_markdown_(self) -> str:
        from ahora.answer import jsonable

        text = json.dumps(jsonable(self.value), ensure_ascii=False)
        return f"… <code>{_md(text[:300])}</code>"


@dataclass(frozen=True, slots=True)
class SubagentEvent:
    """An event of another agent's run, which this run's tool call ``call_id`` started
    (``ahora.subagents``). A sub-agent's own sub-agents nest one more level."""

    agent: str
    call_id: str
    event: Event

    @property
    def depth(self) -> int:
        """1 for the caller's own sub-agent, 2 for that one's, and so on."""
        inner = self.event
        return 1 + (inner.depth if isinstance(inner, SubagentEvent) else 0)

    @property
    def innermost(self) -> Event:
        """The event itself, whichever agent's it is."""
        inner = self.event
        return inner.innermost if isinstance(inner, SubagentEvent) else inner

    @property
    def path(self) -> tuple[str, ...]:
        """The agents from the caller's sub-agent down to the one the event is from."""
        inner = self.event
        return (self.agent, *(inner.path if isinstance(inner, SubagentEvent) else ()))

    def _repr_markdown_(self) -> str:
        inner = self.innermost
        if isinstance(inner, Token):
            return ""  # a sub-agent's words reach the caller as its tool result
        who = " › ".join(_md(a) for a in self.path)
        return "> " * self.depth + f"**{who}** · " + inner._repr_markdown_()


Event = (
    StepStarted
    | Token
    | ToolCalled
    | ToolFinished
    | UsageReported
    | ApprovalRequested
    | PartialOutput
    | SubagentEvent
    | Finished
)

SUBAGENT_CHUNK = "ahora_subagent"
"""The key of a sub-agent's event in the caller's ``custom`` stream (plain JSON data, so
the LangGraph server can send it too)."""

_PLAIN: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        StepStarted,
        Token,
        ToolCalled,
        ToolFinished,
        UsageReported,
        ApprovalRequested,
        PartialOutput,
    )
}


def event_data(event: Event) -> dict[str, Any]:
    """An event as JSON data (``event_from_data`` reads it back); not ``Finished``,
    whose answer the caller gets as the tool's result."""
    from ahora.answer import jsonable

    if isinstance(event, SubagentEvent):
        return {
            "type": "SubagentEvent",
            "agent": event.agent,
            "call_id": event.call_id,
            "event": event_data(event.event),
        }
    if type(event).__name__ not in _PLAIN:
        raise TypeError(f"{type(event).__name__} events are not sent as data")
    return {"type": type(event).__name__} | {
        f.name: jsonable(getattr(event, f.name)) for f in fields(event)
    }


def event_from_data(data: Any) -> Event | None:
    """The event ``event_data`` made, or None for anything else (a stream's ``custom``
    chunks may come from other parts: a user's tool, a newer ahora)."""
    if not isinstance(data, dict):
        return None
    kind = data.get("type")
    if kind == "SubagentEvent":
        inner = event_from_data(data.get("event"))
        if inner is None:
            return None
        return SubagentEvent(str(data.get("agent", "")), str(data.get("call_id", "")), inner)
    cls = _PLAIN.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return None
    try:
        made: Event = cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
    except TypeError:
        return None
    return made


class PartialOutputs:
    """``PartialOutput`` events from the token stream of a run asked for a typed answer.

    The answer arrives as the arguments of an output tool (the tool strategy) or as the
    reply's JSON text (the provider's structured output); either way the JSON so far is
    completed (``parse_partial_json``) and validated with Pydantic's partial mode, and
    an event is made each time the value grows.
    """

    def __init__(self, output: Any) -> None:
        self.output = output
        self.names = _output_names(output)
        self._buffers: dict[tuple[str, int | None], str] = {}
        self._calls: dict[tuple[str, int | None], str] = {}
        self._last: Any = None
        self._adapter: Any = None

    def feed(self, mode: str, chunk: Any) -> list[Event]:
        from langchain_core.messages import AIMessageChunk

        if mode != "messages":
            return []
        message, meta = chunk
        if not isinstance(message, AIMessageChunk) or meta.get("langgraph_node") != "model":
            return []
        mid = message.id or ""
        changed: list[tuple[str, int | None]] = []
        for part in message.tool_call_chunks:
            key = (mid, part.get("index"))
            if part.get("name"):
                self._calls[key] = str(part["name"])
            if self._calls.get(key) in self.names and part.get("args"):
                self._buffers[key] = self._buffers.get(key, "") + str(part["args"])
                changed.append(key)
        if message.text and not message.tool_call_chunks:
            key = (mid, None)
            self._buffers[key] = self._buffers.get(key, "") + message.text
            changed.append(key)
        out: list[Event] = []
        for key in changed:
            value = self._value(self._buffers[key])
            if value is not None and value != self._last:
                self._last = value
                out.append(PartialOutput(value))
        return out

    def _value(self, text: str) -> Any:
        from langchain_core.utils.json import parse_partial_json

        stripped = text.strip()
        if not stripped.startswith(("{", "[")):
            return None
        try:
            data = parse_partial_json(stripped)
        except ValueError:
            return None
        if data is None or isinstance(self.output, dict):
            return data
        try:
            if self._adapter is None:
                from pydantic import TypeAdapter

                self._adapter = TypeAdapter(self.output)
            return self._adapter.validate_python(data, experimental_allow_partial=True)
        except Exception:  # not valid yet as far as it goes: the raw data
            return data


def _output_names(output: Any) -> set[str]:
    """The output tools' names LangChain gives an answer type (each union member's)."""
    from types import UnionType
    from typing import Union, get_args, get_origin

    variants = get_args(output) if get_origin(output) in (Union, UnionType) else (output,)
    names = set()
    for v in variants:
        if isinstance(v, dict):
            names.add(str(v.get("title") or "answer"))
        else:
            names.add(str(getattr(v, "__name__", "")))
    return names


def _preview(text: str, limit: int = 160) -> str:
    body = " ".join(unfence(content_text(text)).split())
    return body if len(body) <= limit else body[: limit - 1] + "…"


class EventBuilder:
    """Turns ``(mode, chunk)`` pairs from ``stream_mode=["messages", "updates"]`` into events."""

    def __init__(self) -> None:
        self.step = 0
        self.pending: dict[str, float] = {}
        self.started = time.monotonic()

    def start(self) -> list[Event]:
        self.step = 1
        return [StepStarted(1)]

    def feed(self, mode: str, chunk: Any) -> list[Event]:
        from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage

        out: list[Event] = []
        if mode == "custom":
            if isinstance(chunk, dict) and SUBAGENT_CHUNK in chunk:
                event = event_from_data(chunk[SUBAGENT_CHUNK])
                if event is not None:
                    out.append(event)
            return out
        if mode == "messages":
            message, meta = chunk
            if (
                isinstance(message, AIMessageChunk)
                and meta.get("langgraph_node") == "model"
                and message.text
            ):
                out.append(Token(message.text))
            return out
        if mode != "updates" or not isinstance(chunk, dict):
            return out
        for node, update in chunk.items():
            if node == "__interrupt__":
                for intr in update or ():
                    out.extend(_approval_events(getattr(intr, "value", None)))
                continue
            messages = (update or {}).get("messages", []) if isinstance(update, dict) else []
            for message in messages:
                if isinstance(message, AIMessage):
                    usage = message.usage_metadata
                    if usage:
                        out.append(
                            UsageReported(
                                usage.get("input_tokens", 0), usage.get("output_tokens", 0)
                            )
                        )
                    for call in message.tool_calls:
                        self.pending[call["id"] or ""] = time.monotonic()
                        args = shown_args(call["args"])
                        out.append(ToolCalled(call["id"] or "", call["name"], args))
                elif isinstance(message, ToolMessage):
                    began = self.pending.pop(message.tool_call_id, time.monotonic())
                    artifact = message.artifact if isinstance(message.artifact, dict) else {}
                    error = artifact.get("error") or (
                        _preview(str(message.content)) if message.status == "error" else None
                    )
                    out.append(
                        ToolFinished(
                            call_id=message.tool_call_id,
                            name=message.name or "",
                            preview=_preview(str(message.content)),
                            error=error,
                            sources=list(artifact.get("sources") or []),
                            seconds=time.monotonic() - began,
                        )
                    )
                    if not self.pending:
                        self.step += 1
                        out.append(StepStarted(self.step))
        return out


def _approval_events(value: Any) -> list[Event]:
    """HumanInTheLoopMiddleware interrupts carry ``action_requests``."""
    if not isinstance(value, dict):
        return []
    return [
        ApprovalRequested(
            call_id=str(req.get("id", "")),
            name=str(req.get("name", "")),
            args=dict(req.get("args") or {}),
        )
        for req in value.get("action_requests", [])
    ]


def answer_from_messages(
    messages: list[Any],
    *,
    thread_id: str | None,
    model: str | None,
    seconds: float,
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> Answer:
    """Collect the answer, sources, tool calls and usage of the last run in ``messages``."""
    from langchain_core.messages import AIMessage, ToolMessage

    run = this_run(messages)
    # Steps and cost as the budget counts them (a typed answer's in-step retries and
    # a sub-agent's run included): one reading of the rules, in run_stats.
    stats = run_stats(run, default_model=model, prices=prices)
    sources: list[Source] = []
    seen: set[str] = set()
    calls: list[ToolCallRecord] = []
    usage = Usage(input_tokens=0, output_tokens=0)
    text = ""
    stopped = False
    stop_reason: str | None = None
    spent_by_call = {
        m.tool_call_id: m.artifact[SUBRUN]
        for m in run
        if isinstance(m, ToolMessage)
        and isinstance(m.artifact, dict)
        and isinstance(m.artifact.get(SUBRUN), dict)
    }
    for message in run:
        if isinstance(message, AIMessage):
            if message.usage_metadata:
                usage["input_tokens"] += message.usage_metadata.get("input_tokens", 0)
                usage["output_tokens"] += message.usage_metadata.get("output_tokens", 0)
            for c in message.tool_calls:
                record = ToolCallRecord(name=c["name"], args=shown_args(c["args"]))
                spent = spent_by_call.get(c["id"] or "")
                if spent is not None:  # another agent's run, counted in this one
                    record["subagent"] = dict(spent)
                    usage["input_tokens"] += int(spent.get("input_tokens") or 0)
                    usage["output_tokens"] += int(spent.get("output_tokens") or 0)
                calls.append(record)
            if not message.tool_calls:
                text = message.text
            flag = message.response_metadata.get(STOPPED_EARLY)
            if flag:
                stopped = True
                stop_reason = flag if isinstance(flag, str) else stop_reason
        elif isinstance(message, ToolMessage) and isinstance(message.artifact, dict):
            for src in message.artifact.get("sources") or []:
                if src.get("url") and src["url"] not in seen:
                    seen.add(src["url"])
                    sources.append(src)
    return Answer(
        text=text,
        sources=sources,
        tool_calls=calls,
        usage=usage,
        thread_id=thread_id,
        model=model,
        steps=stats.steps,
        seconds=seconds,
        cost_usd=stats.cost,
        stopped_early=stopped,
        stop_reason=stop_reason,
        messages=list(messages),
    )
