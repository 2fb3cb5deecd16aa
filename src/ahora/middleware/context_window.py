"""Keep what the model is sent inside its context window; the thread keeps everything.

A thread grows for weeks; a model's window does not. Before each model call this
middleware counts what the call will send and, when that passes a safe share
(``SAFE_SHARE``) of the model's input limit, sends a shorter *view* of the thread:

1. old tool outputs (from earlier turns) become a one-line stub that names the tool,
   its arguments and its sources;
2. then the oldest turns are replaced, oldest first, by one digest message: for each
   turn the question, the tools called, the sources and the start of the answer;
3. then tool outputs of this turn's earlier steps become stubs, the oldest digest
   lines are dropped, and last of all the latest tool outputs are cut to fit.

Only the request changes: the saved thread keeps every message as it happened, so
``threads show`` and export see every turn. That is why this is not LangChain's
``SummarizationMiddleware``: it replaces the saved history with its summary (a
``RemoveMessage(REMOVE_ALL_MESSAGES)`` in ``before_model``), and its summary is one
more model call, made exactly when the context is already in trouble, whose result
would have to be stored beside the thread to avoid paying for it again on every call.
The digest here is built from the saved messages themselves: no model call, nothing
stored, the same every time, and it keeps the sources word for word. (A model-written
summary could be added later through ``ExtendedModelResponse``, stored in its own
state key, never over the messages.)

Counting: the window is the model's ``profile["max_input_tokens"]`` (LangChain's
model profiles) or ``context_window`` in the config file's ``[models."provider:name"]``
table, which wins. What a call will send is the last reply's reported usage plus an
estimate (``count_tokens_approximately``) of the messages added since; when a
shortened view is needed, the estimate is scaled by how far the provider's count was
from it on the last call. Without a known window nothing is shortened in advance.

A provider's context-length error (OpenAI ``context_length_exceeded``, Anthropic's
"prompt is too long", Ollama and llama.cpp's equivalents) is answered by one retry
with a view sized from the numbers in the error (or half the size without them); if
that fails too, ``ContextWindowExceeded`` says what happened and what to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately

from ahora.context import context_of
from ahora.errors import ContextWindowExceeded, InvalidSettings
from ahora.messages import content_text, fence
from ahora.models import model_label

__all__ = [
    "CONTEXT_KEY",
    "SAFE_SHARE",
    "ContextWindowMiddleware",
    "context_window",
    "is_context_overflow",
]

SAFE_SHARE = 0.75
"""Of the window, what a request may fill: the rest is for the reply and for the
estimate being off."""

CONTEXT_KEY = "ahora_context"
"""``response_metadata`` key on a reply made from a shortened view: ``{"sent": n}``, the
estimate of what was sent, which the next call compares with the reported usage, and
``"window"`` when a provider's error told it (so the next turn shortens in advance)."""

_QUESTION_CHARS = 300
_BRIEF_CHARS = 80
_ANSWER_CHARS = 500
_ARGS_CHARS = 200
_SOURCES_PER_TURN = 20

_OVERFLOW_SIGNS = (
    "context_length_exceeded",  # OpenAI's code
    "maximum context length",  # OpenAI, vLLM
    "prompt is too long",  # Anthropic
    "exceeds the context window",  # OpenAI Responses
    "context window exceeded",
    "exceeds the context length",  # Ollama ("input length exceeds the context length")
    "context length exceeded",
    "exceeds the available context size",  # llama.cpp server
    "exceed_context_size",  # llama.cpp's error type
)


def context_window(model: Any, models: Mapping[str, Mapping[str, Any]] | None = None) -> int | None:
    """The model's input limit in tokens: the config's ``context_window``, else its
    LangChain profile's ``max_input_tokens``, else None (unknown)."""
    name = model_label(model)
    for key, table in (models or {}).items():
        if key == name or key.split(":", 1)[-1] == name:
            value = table.get("context_window")
            if value is not None:
                return int(value)
    profile = getattr(model, "profile", None)
    if isinstance(profile, Mapping):
        limit = profile.get("max_input_tokens")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            return limit
    return None


def is_context_overflow(exc: BaseException) -> bool:
    """Whether a provider refused the request for being longer than the model's window."""
    from langchain_core.exceptions import ContextOverflowError

    if isinstance(exc, ContextOverflowError):
        return True
    if getattr(exc, "code", None) == "context_length_exceeded":
        return True
    body = getattr(exc, "body", None)
    text = f"{exc} {body if isinstance(body, (dict, str)) else ''}".lower()
    return any(sign in text for sign in _OVERFLOW_SIGNS)


def _provider_numbers(exc: BaseException) -> tuple[int, int] | None:
    """(window, tokens sent) when the error says them (OpenAI, vLLM, Anthropic)."""
    text = str(exc).replace(",", "")
    found = re.search(
        r"maximum context length is (\d+) tokens.*?(?:resulted in|requested) (\d+)",
        text,
        re.IGNORECASE | re.DOTALL,
    )
    if found:
        return int(found[1]), int(found[2])
    found = re.search(r"(\d+) tokens > (\d+) maximum", text, re.IGNORECASE)  # Anthropic
    if found:
        return int(found[2]), int(found[1])
    return None


# --- sizing ---------------------------------------------------------------------------


class Memo:
    """What a long thread's calls would otherwise recount every time: each message's
    size, each stub and each digest line, remembered by message id (and length, since
    an id alone does not say the content is the same). Bounded: cleared when full."""

    LIMIT = 100_000

    def __init__(self, count: Callable[[BaseMessage], int] | None = None) -> None:
        self._count = count or (lambda m: count_tokens_approximately([m]))
        self._sizes: dict[tuple[str, int], int] = {}
        self._stubs: dict[tuple[str, int], tuple[ToolMessage, int]] = {}
        self._lines: dict[tuple[str, str, int, bool], str] = {}

    @staticmethod
    def _key(message: BaseMessage) -> tuple[str, int] | None:
        content = message.content
        if not message.id or not isinstance(content, str):
            return None
        return message.id, len(content)

    def _room(self) -> None:
        if len(self._sizes) + len(self._stubs) + len(self._lines) > self.LIMIT:
            self._sizes.clear()
            self._stubs.clear()
            self._lines.clear()

    def size(self, message: BaseMessage) -> int:
        key = self._key(message)
        if key is None:
            return self._count(message)
        found = self._sizes.get(key)
        if found is None:
            self._room()
            found = self._sizes[key] = self._count(message)
        return found

    def stub(
        self, message: ToolMessage, calls: Callable[[], Mapping[str, tuple[str, Any]]]
    ) -> tuple[ToolMessage, int]:
        key = self._key(message)
        found = self._stubs.get(key) if key is not None else None
        if found is None:
            short = stub(message, calls())
            found = (short, self._count(short))
            if key is not None:
                self._room()
                self._stubs[key] = found
        return found

    def line(self, turn: Sequence[BaseMessage], *, brief: bool = False) -> str:
        first, last = turn[0].id, turn[-1].id
        if not first or not last:
            return digest_line(turn, brief=brief)
        key = (first, last, len(turn), brief)
        found = self._lines.get(key)
        if found is None:
            self._room()
            found = self._lines[key] = digest_line(turn, brief=brief)
        return found


def _fixed_part(request: ModelRequest[Any]) -> int:
    """The system prompt and tool schemas: sent with every call, never shortened."""
    system = [request.system_message] if request.system_message is not None else []
    return count_tokens_approximately(system, tools=list(request.tools) or None)


# --- the view -------------------------------------------------------------------------


def _text(message: BaseMessage) -> str:
    return " ".join(content_text(message.content).split())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _call_text(name: str, args: Any) -> str:
    rendered = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
    return f"{name} {_clip(rendered, _ARGS_CHARS)}"


def _sources(message: ToolMessage) -> list[str]:
    artifact = message.artifact
    if not isinstance(artifact, dict):
        return []
    urls = []
    for source in artifact.get("sources") or []:
        url = source.get("url") if isinstance(source, dict) else None
        if isinstance(url, str) and url and url not in urls:
            urls.append(url)
    return urls


def _calls_by_id(messages: Sequence[BaseMessage]) -> dict[str, tuple[str, Any]]:
    calls: dict[str, tuple[str, Any]] = {}
    for m in messages:
        if isinstance(m, AIMessage):
            for call in m.tool_calls:
                if call.get("id"):
                    calls[str(call["id"])] = (call["name"], call.get("args", {}))
    return calls


def stub(message: ToolMessage, calls: Mapping[str, tuple[str, Any]]) -> ToolMessage:
    """The tool message with its output replaced by one line: tool, arguments, sources."""
    name, args = calls.get(message.tool_call_id, (message.name or "tool", {}))
    size = len(content_text(message.content))
    line = (
        f"[ahora: this output ({size:,} characters) was left out to fit the model's "
        f"context window; call: {_call_text(name, args)}"
    )
    urls = _sources(message)
    line += f"; sources: {', '.join(urls)}]" if urls else "]"
    return message.model_copy(update={"content": fence(line, message.name or name)})


def digest_line(turn: Sequence[BaseMessage], *, brief: bool = False) -> str:
    """One old turn in a line: the question, the tools called, the sources, the answer.

    ``brief`` keeps the sources and the tools' names but only the start of the question.
    """
    question = next((_text(m) for m in turn if isinstance(m, HumanMessage)), "")
    used = [
        name if brief else _call_text(name, args)
        for m in turn
        if isinstance(m, AIMessage)
        for name, args in ((c["name"], c.get("args", {})) for c in m.tool_calls)
    ]
    urls: list[str] = []
    for m in turn:
        if isinstance(m, ToolMessage):
            urls += [u for u in _sources(m) if u not in urls]
    answer = next((_text(m) for m in reversed(turn) if isinstance(m, AIMessage) and _text(m)), "")
    parts = [f'the user asked: "{_clip(question, _BRIEF_CHARS if brief else _QUESTION_CHARS)}"']
    if used:
        parts.append("tools: " + "; ".join(used))
    if urls:
        parts.append("sources: " + ", ".join(urls[:_SOURCES_PER_TURN]))
    if not brief:
        parts.append(f'the answer began: "{_clip(answer, _ANSWER_CHARS)}"')
    return "- " + " | ".join(parts)


_DIGEST_HEAD_TOKENS = 50


def _line_tokens(line: str) -> int:
    return len(line) // 4 + 1


def _digest_message(lines: Sequence[str], dropped: int) -> HumanMessage:
    head = (
        "[ahora: this conversation is longer than the model's context window, so its "
        f"{len(lines) + dropped} earliest turns are summarised here (the saved thread keeps "
        "them in full)."
    )
    if dropped:
        head += f" The {dropped} oldest of them are left out entirely."
    # Fenced like tool output: it quotes pages' addresses and earlier answers, which are
    # data, not instructions, even inside a user-role message.
    return HumanMessage(content=head + "]\n" + fence("\n".join(lines), "conversation_digest"))


@dataclass
class _View:
    messages: list[BaseMessage]
    size: int  # estimated tokens of ``messages`` (raw approximation, not scaled)
    shortened: bool


def shorten(messages: Sequence[BaseMessage], room: int, memo: Memo | None = None) -> _View:
    """A view of ``messages`` within about ``room`` tokens, shortened as little as it
    takes, in the order the module docstring gives."""
    work = list(messages)
    memo = memo or Memo()
    sizes = [memo.size(m) for m in work]
    total = whole = sum(sizes)
    if total <= room:
        return _View(work, total, False)
    found_calls: dict[str, tuple[str, Any]] | None = None

    def calls() -> Mapping[str, tuple[str, Any]]:
        nonlocal found_calls
        if found_calls is None:
            found_calls = _calls_by_id(messages)
        return found_calls

    current = max((i for i, m in enumerate(work) if isinstance(m, HumanMessage)), default=0)

    def stub_at(i: int) -> None:
        nonlocal total
        message = work[i]
        if isinstance(message, ToolMessage):
            work[i], new = memo.stub(message, calls)
            total += new - sizes[i]
            sizes[i] = new

    # 1. Old tool outputs become stubs, oldest first.
    for i in range(current):
        if total <= room:
            return _View(work, total, True)
        stub_at(i)

    # 2. The oldest turns become digest lines, oldest first.
    starts = [i for i in range(current) if isinstance(work[i], HumanMessage)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = [*starts, current]
    turns = [
        (bounds[j], bounds[j + 1]) for j in range(len(bounds) - 1) if bounds[j] < bounds[j + 1]
    ]
    lines: list[str] = []  # one per digested turn, oldest first
    digested: list[tuple[int, int]] = []  # those turns' bounds
    brief_upto = 0  # lines[:brief_upto] are brief
    dropped = 0
    kept_from = 0
    lines_size = digest_size = 0

    def view() -> list[BaseMessage]:
        head: list[BaseMessage] = [_digest_message(lines, dropped)] if lines or dropped else []
        return head + work[kept_from:]

    def resize(new_lines_size: int) -> None:
        nonlocal total, lines_size, digest_size
        lines_size = new_lines_size
        new = _DIGEST_HEAD_TOKENS + lines_size if lines or dropped else 0
        total += new - digest_size
        digest_size = new

    def make_brief(j: int) -> None:
        start, end = digested[j]
        line = memo.line(messages[start:end], brief=True)
        old, lines[j] = lines[j], line
        resize(lines_size + _line_tokens(line) - _line_tokens(old))

    for start, end in turns:
        if total <= room:
            return _View(view(), total, True)
        line = memo.line(messages[start:end])
        lines.append(line)
        digested.append((start, end))
        total -= sum(sizes[start:end])
        kept_from = end
        resize(lines_size + _line_tokens(line))
        # Recent turns keep their full line; the digest's older lines get brief once it
        # takes more than a third of the room.
        while digest_size > room // 3 and brief_upto < len(lines):
            make_brief(brief_upto)
            brief_upto += 1

    # 3. Tool outputs of this turn's earlier steps become stubs (not the latest step's).
    last_ai = max(
        (i for i in range(current, len(work)) if isinstance(work[i], AIMessage)), default=-1
    )
    for i in range(current, max(last_ai, current)):
        if total <= room:
            return _View(view(), total, True)
        stub_at(i)

    # 4. Every digest line gets brief (sources, tools, the start of the question);
    #    then the oldest lines go.
    while brief_upto < len(lines) and total > room:
        make_brief(brief_upto)
        brief_upto += 1
    while lines and total > room:
        removed = lines.pop(0)
        digested.pop(0)
        brief_upto = max(brief_upto - 1, 0)
        dropped += 1
        resize(lines_size - _line_tokens(removed))

    # 5. The latest tool outputs are cut to share what room is left.
    latest = [
        i for i in range(max(last_ai, current), len(work)) if isinstance(work[i], ToolMessage)
    ]
    if total > room and latest:
        spare = room - (total - sum(sizes[i] for i in latest))
        each_chars = max(spare // len(latest), 50) * 4
        for i in latest:
            message = work[i]
            text = content_text(message.content)
            if len(text) > each_chars:
                cut = (
                    text[:each_chars]
                    + f"\n[ahora: {len(text) - each_chars:,} more characters left out to fit "
                    "the model's context window]"
                )
                work[i] = message.model_copy(update={"content": cut})
                new = count_tokens_approximately([work[i]])
                total += new - sizes[i]
                sizes[i] = new
    final = view()
    if lines or dropped:  # the digest's size counted, not estimated, before comparing
        total += count_tokens_approximately([final[0]]) - digest_size
    if total >= whole:  # digesting tiny turns can cost more than it saves: send them
        return _View(list(messages), whole, False)
    return _View(final, total, True)


# --- the middleware -------------------------------------------------------------------


def _learned_window(messages: Sequence[BaseMessage]) -> int | None:
    """The window a provider's error stated on this thread (see ``CONTEXT_KEY``)."""
    for m in reversed(messages):
        if isinstance(m, AIMessage):
            mark = m.response_metadata.get(CONTEXT_KEY)
            if isinstance(mark, dict) and isinstance(mark.get("window"), int):
                return int(mark["window"])
            if m.usage_metadata:
                return None  # the last reply learned nothing: the window is not known
    return None


@dataclass
class _Plan:
    request: ModelRequest[Any]
    sent: int | None  # estimated tokens sent when the view was shortened, else None
    window: int | None = None  # the window a provider's error stated


def _checked(models: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The ``[models]`` table, each ``context_window`` a whole number of tokens."""
    for key, table in models.items():
        value = table.get("context_window")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise InvalidSettings(
                f'models."{key}".context_window must be a whole number of tokens, not {value!r}'
            )
    return dict(models)


class ContextWindowMiddleware(AgentMiddleware[Any, Any, Any]):
    """Shortens the request (never the thread) to fit the model's window; one
    shorten-and-retry on a provider's context-length error. See the module docstring."""

    def __init__(
        self,
        models: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        share: float = SAFE_SHARE,
    ) -> None:
        super().__init__()
        self.models = _checked(models or {})
        self._run_models: tuple[Mapping[str, Mapping[str, Any]], dict[str, Any]] | None = None
        self.share = share
        self._memo = Memo()

    def _models(self, request: ModelRequest[Any]) -> Mapping[str, Mapping[str, Any]]:
        """The run's model table (``settings.models``), checked once per table."""
        context = context_of(request)
        if context is None or context.settings.models is self.models:
            return self.models
        seen = self._run_models
        if seen is None or seen[0] is not context.settings.models:
            seen = (context.settings.models, _checked(context.settings.models))
            self._run_models = seen
        return seen[1]

    # -- counting --------------------------------------------------------------------

    def _ratio(self, messages: Sequence[BaseMessage], fixed: int) -> float:
        """Provider tokens per estimated token, from the last reply with usage."""
        for k in range(len(messages) - 1, -1, -1):
            m = messages[k]
            if isinstance(m, AIMessage) and m.usage_metadata:
                reported = m.usage_metadata.get("input_tokens", 0)
                meta = m.response_metadata.get(CONTEXT_KEY)
                if isinstance(meta, dict) and meta.get("sent"):
                    sent = int(meta["sent"])
                else:
                    sent = fixed + sum(self._memo.size(x) for x in messages[:k])
                if reported > 0 and sent > 0:
                    return min(max(reported / sent, 0.8), 4.0)
                break
        return 1.0

    def _fits_as_is(self, messages: Sequence[BaseMessage], budget: int) -> bool:
        """The cheap check: last reported usage plus the estimate of what came after."""
        for k in range(len(messages) - 1, -1, -1):
            m = messages[k]
            if isinstance(m, AIMessage):
                usage = m.usage_metadata
                mark = m.response_metadata.get(CONTEXT_KEY)
                if not usage or not usage.get("input_tokens"):
                    return False  # no count (some local servers report 0): not known
                if isinstance(mark, dict) and mark.get("sent"):
                    return False  # it counted a shortened view
                added = sum(self._memo.size(x) for x in messages[k + 1 :])
                return (
                    usage.get("input_tokens", 0) + usage.get("output_tokens", 0) + added <= budget
                )
        return False

    def plan(self, request: ModelRequest[Any]) -> _Plan:
        """The request to send: as it is, or with a shortened view of the messages."""
        known = context_window(request.model, self._models(request))
        learned = None if known else _learned_window(request.messages)
        window = known or learned
        if window is None:
            return _Plan(request, None)
        budget = int(window * self.share)
        if self._fits_as_is(request.messages, budget):
            return _Plan(request, None, learned)
        fixed = _fixed_part(request)
        room = int(budget / self._ratio(request.messages, fixed)) - fixed
        plan = self._view(request, room, fixed)
        plan.window = learned
        return plan

    def _view(self, request: ModelRequest[Any], room: int, fixed: int) -> _Plan:
        view = shorten(request.messages, max(room, 1), self._memo)
        if not view.shortened:
            return _Plan(request, None)
        shorter = request.override(messages=view.messages)  # type: ignore[arg-type]
        return _Plan(shorter, fixed + view.size)

    def harder(self, request: ModelRequest[Any], tried: _Plan, error: BaseException) -> _Plan:
        """A smaller view after the provider refused ``tried`` as too long."""
        fixed = _fixed_part(request)
        sent = tried.sent or fixed + sum(self._memo.size(m) for m in tried.request.messages)
        numbers = _provider_numbers(error)
        if numbers:
            window, counted = numbers
            target = int(sent * window / max(counted, 1) * self.share)
        else:
            target = sent // 2
        plan = self._view(request, target - fixed, fixed)
        plan.window = numbers[0] if numbers else tried.window
        return plan

    @staticmethod
    def _mark(response: Any, plan: _Plan) -> Any:
        mark: dict[str, int] = {}
        if plan.sent is not None:
            mark["sent"] = plan.sent
        if plan.window:
            mark["window"] = plan.window
        if not mark:
            return response
        for message in getattr(response, "result", [response]):
            if isinstance(message, AIMessage):
                message.response_metadata = {**message.response_metadata, CONTEXT_KEY: mark}
        return response

    def _give_up(self, request: ModelRequest[Any], error: BaseException) -> ContextWindowExceeded:
        window = context_window(request.model, self._models(request))
        numbers = _provider_numbers(error)
        size = window or (numbers[0] if numbers else None)
        limit = f" ({size:,} tokens)" if size else ""
        return ContextWindowExceeded(
            f"this turn does not fit the model's context window{limit}, even with the "
            "conversation's older turns summarised and old tool outputs left out: ask "
            "something narrower, start a new thread (/new in chat, or ask without "
            "--thread), or switch to a model with a bigger window (--model)"
        )

    # -- hooks -----------------------------------------------------------------------

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        first = self.plan(request)
        try:
            return self._mark(handler(first.request), first)  # type: ignore[no-any-return]
        except Exception as exc:
            if not is_context_overflow(exc):
                raise
            error: BaseException = exc
        second = self.harder(request, first, error)
        try:
            return self._mark(handler(second.request), second)  # type: ignore[no-any-return]
        except Exception as exc:
            if not is_context_overflow(exc):
                raise
            raise self._give_up(request, exc) from exc

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        first = self.plan(request)
        try:
            return self._mark(await handler(first.request), first)  # type: ignore[no-any-return]
        except Exception as exc:
            if not is_context_overflow(exc):
                raise
            error: BaseException = exc
        second = self.harder(request, first, error)
        try:
            return self._mark(await handler(second.request), second)  # type: ignore[no-any-return]
        except Exception as exc:
            if not is_context_overflow(exc):
                raise
            raise self._give_up(request, exc) from exc
