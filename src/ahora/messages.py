"""The conversation format: what ahora writes into messages and how to read it back.

Middleware write markers, fences and metadata into the conversation; views (events,
answers, export, the terminal) read them back. Both sides import this module and
neither imports the other, so the format has one home. Kept free of heavy imports at
import time: the functions that look at message classes import LangChain when called.

What ahora writes:

- every tool result is *fenced* (``fence``) as data for the model;
- a tool result's ``artifact`` is an ``Artifact``: its ``sources`` (``Source``), an
  ``error`` on failure, and ``REPEATED_CALL`` when the loop guard answered it;
- a reply made at a limit has ``STOPPED_EARLY`` (the reason) in its
  ``response_metadata``;
- a tool call whose arguments were not JSON carries its raw text under
  ``INVALID_ARGUMENTS`` in its ``args``;
- fixed texts: ``EMPTY_FALLBACK`` (the model said nothing twice) and ``NOT_FINISHED``
  (the result of a call a killed run never finished).
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from ahora.folds import ThreadFolds
from ahora.pricing import call_cost

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

__all__ = [
    "EMPTY_FALLBACK",
    "EXTRA_CALLS",
    "FENCE_CLOSE",
    "FENCE_OPEN",
    "INVALID_ARGUMENTS",
    "NOTHING_GATHERED",
    "NOT_FINISHED",
    "OUTPUT_ERROR",
    "OUTPUT_SCHEMA",
    "REPEATED_CALL",
    "STOPPED_EARLY",
    "SUBAGENT",
    "SUBRUN",
    "Artifact",
    "RunStats",
    "Source",
    "answered_calls",
    "content_text",
    "fence",
    "now_iso",
    "run_stats",
    "shown_args",
    "source",
    "this_run",
    "unfence",
]

STOPPED_EARLY = "ahora_stopped_early"
"""``response_metadata`` key of a reply made at a limit; its value is the reason."""
EXTRA_CALLS = "ahora_extra_calls"
"""``response_metadata`` key: model calls made inside this reply's step (retries for a
typed answer), counted as steps."""
SUBAGENT = "ahora_subagent"
"""``tool.metadata`` key of another agent called as a tool (``ahora.subagents``): its
name. Such a call is bounded by its share of the run's budget, not a tool timeout."""
SUBAGENT_RUNS = "ahora_subagent_runs"
"""``tool.metadata`` key of another agent called as a tool: the ``Agent`` that runs the
calls (so the caller's ``close`` reaches its MCP sessions)."""
SUBRUN = "ahora_subrun"
"""Artifact key of a sub-agent's answer (``ahora.subagents``): what its run spent,
``{"agent", "steps", "tokens", "cost"}``, counted in the caller's budget, and what it
did (``task``, ``tool_calls``, ``thread``)."""
SUBRUN_THREAD = "/subagent:"
"""A sub-agent's run is kept under its caller's thread id, this, and the call's id:
found again when the caller resumes, and deleted with the caller's thread."""
OUTPUT_SCHEMA = "ahora_output_schema"
"""``response_metadata`` key of a typed answer's reply: the JSON schema it was asked for."""
OUTPUT_ERROR = "ahora_output_error"
"""``response_metadata`` key: why the reply is not the typed answer that was asked for."""
REPEATED_CALL = "ahora_repeated_call"
"""Set in the artifact of the loop guard's answer to a repeated identical tool call."""
INVALID_ARGUMENTS = "__ahora_invalid_arguments__"
"""``args`` key of a tool call whose arguments were not valid JSON (the raw text)."""
EMPTY_FALLBACK = "The model returned an empty reply twice, so there is no answer to show."
NOTHING_GATHERED = "Nothing was gathered before the time ran out."
"""The last line of a time-limit summary with no tool result: the run has no answer."""
NOT_FINISHED = (
    "Error: this tool call never finished (the earlier run was interrupted). Call it "
    "again if you still need its result."
)


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


def this_run(messages: Sequence[BaseMessage]) -> Sequence[BaseMessage]:
    """The messages after the user's last message."""
    from langchain_core.messages import HumanMessage

    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return messages[i + 1 :]
    return messages


def answered_calls(messages: Sequence[BaseMessage]) -> dict[int, set[str]]:
    """For each assistant message (by index), the ids of its tool calls answered by the
    tool messages right after it. An answer counts only in its own turn: providers and
    local servers that number calls per reply reuse ids (``call_0_0``), so an id
    answered elsewhere in the thread says nothing about this call."""
    from langchain_core.messages import AIMessage, ToolMessage

    out: dict[int, set[str]] = {}
    current: set[str] | None = None
    for i, m in enumerate(messages):
        if isinstance(m, ToolMessage):
            if current is not None:
                current.add(m.tool_call_id)
        elif isinstance(m, AIMessage):
            current = out[i] = set()
        else:
            current = None
    for i, ids in out.items():
        ids &= {c.get("id") or "" for c in getattr(messages[i], "tool_calls", [])}
    return out


@dataclass(frozen=True, slots=True)
class RunStats:
    """What the limits look at, gathered in one pass over this run's messages."""

    steps: int  # model calls since the user's last message
    tokens: int
    cost: float | None  # US dollars; None when a call's model has no known price
    repeated_call: bool  # the loop guard answered a repeated identical call
    stale_steps: int  # trailing tool steps whose every result repeated an earlier one


class _RunFold:
    """``run_stats``'s pass over a run, message by message, so it can be resumed."""

    __slots__ = (
        "cost",
        "default_model",
        "prices",
        "repeated",
        "seen",
        "stale",
        "step_has_results",
        "step_new",
        "steps",
        "tokens",
        "want_costs",
    )

    def __init__(
        self,
        default_model: str | None,
        prices: Mapping[str, tuple[float, float]] | None,
        costs: bool,
    ) -> None:
        self.default_model, self.prices, self.want_costs = default_model, prices, costs
        self.start()

    def start(self) -> None:
        """A new run: the user's message resets every count."""
        self.steps = self.tokens = self.stale = 0
        self.cost: float | None = 0.0  # stays a number only while every call's cost is known
        self.repeated = self.step_new = self.step_has_results = False
        self.seen: set[str] = set()

    def copy(self) -> _RunFold:
        other = _RunFold(self.default_model, self.prices, self.want_costs)
        other.steps, other.tokens, other.stale, other.cost = (
            self.steps,
            self.tokens,
            self.stale,
            self.cost,
        )
        other.repeated, other.step_new = self.repeated, self.step_new
        other.step_has_results, other.seen = self.step_has_results, set(self.seen)
        return other

    def add(self, messages: Sequence[object]) -> bool:
        from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

        costs, prices = self.want_costs, self.prices
        for m in messages:
            if isinstance(m, AIMessage):
                extra = m.response_metadata.get(EXTRA_CALLS)
                self.steps += 1 + (
                    extra if isinstance(extra, int) and not isinstance(extra, bool) else 0
                )
                usage = m.usage_metadata
                if usage:
                    self.tokens += usage.get("total_tokens") or (
                        usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
                    )
                    if self.cost is not None and costs:
                        model = m.response_metadata.get("model_name") or self.default_model
                        spent = call_cost(
                            model,
                            usage.get("input_tokens", 0),
                            usage.get("output_tokens", 0),
                            prices,
                        )
                        self.cost = None if spent is None else self.cost + spent
                else:
                    self.cost = None  # a call with no reported usage has an unknown cost
                if self.step_has_results:
                    self.stale = 0 if self.step_new else self.stale + 1
                self.step_new = self.step_has_results = False
            elif isinstance(m, ToolMessage):
                self.step_has_results = True
                artifact = m.artifact if isinstance(m.artifact, dict) else None
                if artifact is not None and artifact.get(REPEATED_CALL):
                    self.repeated = True
                spent = artifact.get(SUBRUN) if artifact is not None else None
                if isinstance(spent, dict):  # a sub-agent's run counts against this one
                    self.steps += int(spent.get("steps") or 0)
                    self.tokens += int(spent.get("tokens") or 0)
                    if self.cost is not None and costs:
                        cost = spent.get("cost")
                        self.cost = None if cost is None else self.cost + float(cost)
                body = unfence(str(m.content)).strip()
                self.step_new = self.step_new or body not in self.seen
                self.seen.add(body)
            elif isinstance(m, HumanMessage):
                self.start()
        return True

    def stats(self) -> RunStats:
        stale = self.stale
        if self.step_has_results:
            stale = 0 if self.step_new else stale + 1
        return RunStats(
            self.steps, self.tokens, self.cost if self.want_costs else None, self.repeated, stale
        )


# Each step of a run adds a message or two, so run_stats (asked before every model
# call) resumes its fold from the step before (``ahora.folds``) instead of walking the
# run again. The prices are part of the tag: a kept fold holds its prices, so their id
# cannot be reused by another table while it is kept.
_FOLDS: ThreadFolds[_RunFold] = ThreadFolds(lambda: _RunFold(None, None, True))


def run_stats(
    messages: Sequence[BaseMessage],
    *,
    default_model: str | None = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
    costs: bool = True,
) -> RunStats:
    """Count steps and tokens, and spot loops, in the messages after the user's last.

    ``costs=False`` skips pricing each call (``cost`` is then None): the budget asks
    for it only when the run has a cost limit, since it is checked on every step.

    A step is stale when every tool result it got repeats an earlier one word for
    word. A new error counts as new information (the model learns what not to do);
    the same error, or the same result, again does not.
    """
    fold = _FOLDS.fold(
        messages,
        (default_model, id(prices), costs),
        lambda: _RunFold(default_model, prices, costs),
    )
    assert fold is not None  # a run's fold always goes on
    return fold.stats()


def shown_args(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments as a person should see them: a repaired call shows its raw text."""
    if INVALID_ARGUMENTS in args:
        return {"invalid_json": args[INVALID_ARGUMENTS]}
    return dict(args)


FENCE_OPEN = "<tool_output"
FENCE_CLOSE = "</tool_output>"


def content_text(content: Any) -> str:
    """Tool content as text (MCP and some tools return lists of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            else:
                parts.append(str(block))
        return "\n".join(parts)
    return str(content)


# What a reader might take for "<", "/" or a letter of the tag, beyond what NFKC folds.
_LOOKALIKES = str.maketrans(
    {
        "\u2039": "<",  # ‹
        "\u3008": "<",  # 〈
        "\u27e8": "<",  # ⟨
        "\u2215": "/",  # ∕
        "\u2044": "/",  # ⁄
        "\u29f8": "/",  # ⧸
        "\u043e": "o",  # Cyrillic o
        "\u03bf": "o",  # Greek omicron
        "\u0440": "p",  # Cyrillic er
        "\u03c1": "p",  # Greek rho
        "\u0442": "t",  # Cyrillic te
        "\u03c4": "t",  # Greek tau
        "\u03c5": "u",  # Greek upsilon
        "\u04cf": "l",  # Cyrillic palochka
        "\u0131": "i",  # dotless i
    }
)
# One token: an HTML entity, a backslash escape (``\u003c`` from JSON, with any
# number of backslashes for JSON inside JSON; ``\x3c``), or one character.
_TOKEN = re.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?"
    r"|\\+(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2})|.",
    re.S,
)
_TAG = re.compile(r"</?tooloutput")


@functools.lru_cache(maxsize=4096)
def _shadow(token: str) -> str:
    """How a reader sees one character (or one entity) when looking for a tag: entities
    decoded, NFKC, case folded, lookalikes mapped, accents dropped, and format
    characters (zero-width, soft hyphen, bidi), spaces, dashes and underscores gone.

    Backslashes are gone too and ``\\u003c`` reads as ``<``: Markdown escapes a page's
    literal tag as ``\\</tool\\_output>`` and JSON writes ``<\\/tool_output>``, and a
    model reads both as the tag."""
    if token.startswith("\\"):
        escape = token.lstrip("\\")
        token = chr(int(escape[1:], 16)) if escape else ""
    text = html.unescape(token) if token.startswith("&") else token
    text = unicodedata.normalize("NFKC", text).casefold().translate(_LOOKALIKES)
    return "".join(
        c
        for c in unicodedata.normalize("NFKD", text)
        if unicodedata.category(c)[0] not in "CZM" and unicodedata.category(c) not in ("Pc", "Pd")
    )


def _defuse(text: str) -> str:
    """Rename every fence-like tag in ``text``, however it is spelled, to
    ``<tool_output_`` (or ``</tool_output_``), so nothing inside can open or close it."""
    if text.isascii() and "<" not in text and "&" not in text and "\\" not in text:
        return text  # nothing here could read as a tag
    starts: list[int] = []  # where each token of the shadow text begins in ``text``
    ends: list[int] = []
    shadow: list[str] = []
    for m in _TOKEN.finditer(text):
        for ch in _shadow(m.group()):
            starts.append(m.start())
            ends.append(m.end())
            shadow.append(ch)
    out: list[str] = []
    done = 0
    for m in _TAG.finditer("".join(shadow)):
        begin, stop = starts[m.start()], ends[m.end() - 1]
        out.append(text[done:begin])
        out.append("</tool_output_" if m.group().startswith("</") else "<tool_output_")
        done = stop
    out.append(text[done:])
    return "".join(out)


def _attribute(value: str) -> str:
    """A value for the fence header: defused, HTML-escaped, one line, bounded."""
    value = html.escape(_defuse(value[:200]), quote=True)
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"&#{ord(m.group())};", value)


def fence(text: str, tool: str) -> str:
    """Wrap ``text`` in the fence; any fence-like tag inside it (any case, spacing,
    entity, width, zero-width or lookalike letters) is renamed so that it cannot open
    or close the fence, and the tool name is escaped as an attribute."""
    return f'{FENCE_OPEN} tool="{_attribute(tool)}">\n{_defuse(text)}\n{FENCE_CLOSE}'


def unfence(text: str) -> str:
    """The text inside a fence made by ``fence`` (other text as it is)."""
    if not text.startswith(FENCE_OPEN) or not text.endswith(FENCE_CLOSE):
        return text
    body = text[: -len(FENCE_CLOSE)].split(">", 1)[-1]
    return body.removeprefix("\n").removesuffix("\n")
