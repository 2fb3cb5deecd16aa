"""``Answer``: what a finished run hands back, for code, terminals and notebooks alike."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from ahora.safe_text import inert_markdown, markdown_link, no_images

if TYPE_CHECKING:
    from ahora.messages import Source
    from ahora.timeline import Timeline

__all__ = ["Answer", "ToolCallRecord", "Usage", "jsonable"]


def _is_json(text: str) -> bool:
    import json

    try:
        json.loads(text)
    except ValueError:
        return not text.strip()
    return True


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _sourced(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"value", "source"}


def _cell(value: Any, numbers: dict[str, int]) -> str:
    """One table cell, inert: no live tag, no pipe, no newline."""
    import json

    if _sourced(value):
        n = numbers.get(str(value["source"]))
        shown = _cell(value["value"], numbers)
        return f"{shown} [{n}]" if n else f"{shown} (unlisted source)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = inert_markdown(" ".join(str(text).split()))
    return text.replace("|", "\\|")


def _rows_table(rows: list[Any], numbers: dict[str, int]) -> str:
    """One row per item; the columns are every key the items have, in order."""
    if not _is_rows(rows):
        return _cell(rows, numbers)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    head = "| " + " | ".join(_cell(c, numbers) for c in columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = [
        "| " + " | ".join(_cell(row.get(c, ""), numbers) for c in columns) + " |" for row in rows
    ]
    return "\n".join([head, rule, *body])


def _inert(text: str) -> str:
    """Outside text on one line, escaped so that no Markdown or HTML in it is live."""
    escaped = html.escape(" ".join(str(text).split()))
    return no_images(escaped.replace("`", "&#96;").replace("[", "&#91;").replace("]", "&#93;"))


def _subrun_lines(subruns: list[dict[str, Any]], depth: int) -> list[str]:
    """A nested list: each agent called, its task and steps, then its own calls."""
    import json

    pad = "  " * depth
    lines: list[str] = []
    for run in subruns:
        steps = int(run.get("steps") or 0)
        lines.append(
            f"{pad}- **{_inert(run.get('agent') or 'agent')}**: {_inert(run.get('task') or '')}"
            f" · {steps} step{'' if steps == 1 else 's'}"
        )
        for call in run.get("tool_calls") or []:
            inner = call.get("subagent")
            if isinstance(inner, dict):
                lines += _subrun_lines([inner], depth + 1)
                continue
            args = json.dumps(call.get("args") or {}, ensure_ascii=False)[:200]
            lines.append(f"{pad}  - <code>{_inert(call.get('name') or '')}({_inert(args)})</code>")
    return lines


def jsonable(value: Any) -> Any:
    """A typed answer as plain JSON data (Pydantic models, dataclasses, dicts, lists)."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class ToolCallRecord(TypedDict):
    name: str
    args: dict[str, Any]
    subagent: NotRequired[dict[str, Any]]
    """For a call that ran another agent: what that agent did (``Answer.subagents``)."""


class Usage(TypedDict):
    input_tokens: int
    output_tokens: int


@dataclass
class Answer:
    """The text of the answer plus where it came from and what it cost."""

    text: str
    sources: list[Source] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    usage: Usage = field(default_factory=lambda: Usage(input_tokens=0, output_tokens=0))
    cost_usd: float | None = None
    """What the run cost in US dollars, when the model's prices are known."""
    thread_id: str | None = None
    model: str | None = None
    steps: int = 0
    seconds: float = 0.0
    stopped_early: bool = False
    stop_reason: str | None = None
    """Why the run stopped early (which budget, or the loop guard), when it did."""
    pending: list[dict[str, Any]] = field(default_factory=list)
    """Tool calls waiting for a human's approval (``Agent.resume`` continues)."""
    output: Any = None
    """The validated typed answer, when one was asked for (``ask(..., output=Type)``)."""
    output_error: str | None = None
    """Why no typed answer came (the last validation error), when one was asked for."""
    messages: list[Any] = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        return self.text

    @property
    def subagents(self) -> list[dict[str, Any]]:
        """What the other agents this run called as tools did (``ahora.subagents``), one
        entry per call: ``agent``, ``task``, ``steps``, tokens, ``cost``, ``stopped_early``,
        its ``tool_calls`` (theirs nest the same way) and the ``thread`` its conversation
        is kept under. Each is also its call's ``subagent`` in ``tool_calls``."""
        return [c["subagent"] for c in self.tool_calls if "subagent" in c]

    @property
    def cited_sources(self) -> list[Source]:
        """Sources whose URL the answer mentions; all sources when it cites none."""
        cited = [s for s in self.sources if s["url"] and s["url"].rstrip("/") in self.text]
        return cited or list(self.sources)

    def source(self, url: str) -> Source | None:
        """The source with this URL (its title and ``fetched_at``), if the run fetched it:
        how a ``Sourced`` field of a typed answer (``ahora.Sourced``) is traced."""
        return next((s for s in self.sources if s["url"] == url), None)

    def to_dict(self) -> dict[str, Any]:
        """The shape of ``ahora ask --json``."""
        return {
            "answer": self.text,
            "sources": [
                {"url": s["url"], "title": s.get("title", "")}
                | ({"fetched_at": s["fetched_at"]} if s.get("fetched_at") else {})
                for s in self.sources
            ],
            "tool_calls": [dict(c) for c in self.tool_calls],
            "usage": dict(self.usage),
            "cost_usd": self.cost_usd,
            "model": self.model,
            "thread_id": self.thread_id,
            "steps": self.steps,
            "stopped_early": self.stopped_early,
            "stop_reason": self.stop_reason,
            "pending_approvals": self.pending,
        } | (
            {"output": jsonable(self.output), "output_error": self.output_error}
            if self.output is not None or self.output_error is not None
            else {}
        )

    def timeline(self, turn: int | None = None) -> Timeline:
        """This turn's model and tool calls as a waterfall (``ahora.timeline``): a chart
        in a notebook, text with ``print``; ``turn`` picks another turn of the thread."""
        from ahora.timeline import timeline

        return timeline(self.messages, turn)

    def _output_markdown(self) -> str:
        """The typed answer as tables: fields and values, one row per item of a list
        (a ``Sourced`` value shows the number of its source in the list below)."""
        numbers = {s["url"]: i for i, s in enumerate(self.cited_sources, 1)}
        value = jsonable(self.output)
        if isinstance(value, list):
            return _rows_table(value, numbers)
        if not isinstance(value, dict):
            return _cell(value, numbers)
        scalars = {k: v for k, v in value.items() if not _is_rows(v)}
        parts = []
        if scalars:
            body = [f"| {_cell(k, numbers)} | {_cell(v, numbers)} |" for k, v in scalars.items()]
            parts.append("\n".join(["| field | value |", "|---|---|", *body]))
        for key, rows in value.items():
            if _is_rows(rows):
                parts.append(f"**{_cell(key, numbers)}**\n\n{_rows_table(rows, numbers)}")
        return "\n\n".join(parts)

    def _repr_markdown_(self) -> str:
        # Markdown stays Markdown; raw HTML (say, copied from a hostile page) does not
        # run, and only http(s) addresses become links (in the text and the sources).
        lines = [self._output_markdown()] if self.output is not None else []
        if self.output is None or not _is_json(self.text):
            lines.append(inert_markdown(self.text))
        if self.subagents:
            lines.append("\n**Handed to other agents**\n")
            lines += _subrun_lines(self.subagents, 0)
        if self.sources:
            lines.append("\n**Sources**\n")
            for i, s in enumerate(self.cited_sources, 1):
                title = html.escape(s.get("title") or s["url"])
                title = title.replace("[", "&#91;").replace("]", "&#93;")
                fetched = f" — fetched {s['fetched_at']}" if s.get("fetched_at") else ""
                link = markdown_link(title, s["url"])
                lines.append(f"{i}. {link}{html.escape(fetched)}")
        footer = (
            f"{self.steps} step{'' if self.steps == 1 else 's'} · "
            f"{self.usage['input_tokens']}+{self.usage['output_tokens']} tokens"
            f" · {self.seconds:.1f}s · {self.model or 'model'}"
        )
        if self.stopped_early:
            footer += f" · stopped early ({self.stop_reason or 'budget reached'})"
        lines.append(f"\n<small>{html.escape(footer)}</small>")
        return no_images("\n".join(lines))  # an image would be fetched: show a link
