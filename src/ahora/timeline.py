"""A turn's model and tool calls as a waterfall, from what the run recorded.

``timeline(messages, turn=None)`` reads the ``ahora.timing`` records the tracing
middleware leaves in the messages (so it works for saved threads, with no tracing
backend) and returns a ``Timeline``: ``lines(width)`` draws it as text for a
terminal or a pipe (``ahora threads show ID --timeline``), ``_repr_html_`` as an
inline SVG chart for notebooks (``answer.timeline()``). No imports beyond the
standard library and ``safe_text``: tool and model names come from outside, so each
is cleaned before it is drawn (and escaped in the SVG).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ahora.messages import STOPPED_EARLY
from ahora.safe_text import clean
from ahora.timing import TIMING

__all__ = ["Bar", "Timeline", "timeline"]


@dataclass(frozen=True)
class Bar:
    """One call on the time axis; times in seconds from the turn's first call."""

    kind: Literal["model", "tool"]
    label: str
    start: float
    end: float
    detail: str  # tokens for a model call, bytes for a tool
    failed: bool = False
    note: str = ""  # why it failed, or what ahora decided

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class Timeline:
    """A turn's calls; ``str()`` or ``lines()`` for text, ``_repr_html_`` for notebooks."""

    turn: int
    turns: int
    question: str
    bars: list[Bar] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return max((b.end for b in self.bars), default=0.0)

    def summary(self) -> str:
        models = sum(1 for b in self.bars if b.kind == "model")
        tools = sum(1 for b in self.bars if b.kind == "tool")
        failed = sum(1 for b in self.bars if b.failed)
        parts = [
            f"turn {self.turn} of {self.turns}",
            f"{self.seconds:.2f} s",
            f"{models} model call{'' if models == 1 else 's'}",
            f"{tools} tool call{'' if tools == 1 else 's'}",
        ]
        if failed:
            parts.append(f"{failed} failed")
        return " · ".join(parts)

    def lines(self, width: int = 80) -> list[str]:
        """The waterfall as lines of at most ``width`` characters (at least 40)."""
        width = max(40, width)
        head = [
            _cut(clean(f"› {self.question}", one_line=True), width),
            _cut(self.summary(), width),
        ]
        if not self.bars:
            return [*head, "(no timing recorded for this turn: it ran before ahora kept one)"]
        label_w = min(22, max(len(_label(b)) for b in self.bars))
        detail_w = min(16, max(len(_detail(b)) for b in self.bars))
        room = width - label_w - detail_w - 2
        scale = room / self.seconds if self.seconds > 0 else 0.0
        out = [*head, " " * (label_w + 1) + _axis(self.seconds, room)]
        for bar in self.bars:
            first = min(room - 1, int(bar.start * scale))
            last = max(first + 1, min(room, math.ceil(bar.end * scale)))
            cells = " " * first + ("▒" if bar.failed else "█") * (last - first)
            row = f"{_cut(_label(bar), label_w):<{label_w}} {cells:<{room}} "
            out.append(row + _cut(_detail(bar), detail_w).rjust(detail_w))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        """An inline SVG waterfall (no script, nothing fetched)."""
        row, label_w, chart_w, detail_w = 22, 190, 480, 140
        width = label_w + chart_w + detail_w
        height = row * (len(self.bars) + 2)
        scale = chart_w / self.seconds if self.seconds > 0 else 0.0
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'font-family="monospace" font-size="12" role="img">',
            f"<title>{html.escape(self.summary())}</title>",
            f'<text x="0" y="14" font-weight="bold">{html.escape(self.summary())}</text>',
        ]
        for step in _ticks(self.seconds):
            x = label_w + step * scale
            parts.append(
                f'<line x1="{x:.1f}" y1="{row}" x2="{x:.1f}" y2="{height}" stroke="#ddd"/>'
                f'<text x="{x + 2:.1f}" y="{row + 12}" fill="#888">{_seconds(step)}</text>'
            )
        for i, bar in enumerate(self.bars, start=2):
            y = i * row
            x = label_w + bar.start * scale
            w = max(2.0, bar.seconds * scale)
            color = "#d9534f" if bar.failed else ("#4a7bd0" if bar.kind == "model" else "#e0a030")
            tip = html.escape(f"{_label(bar)}: {bar.seconds:.3f} s {bar.detail} {bar.note}")
            parts.append(
                f'<text x="0" y="{y + 14}">{html.escape(_cut(_label(bar), 26))}</text>'
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
                f'fill="{color}"><title>{tip}</title></rect>'
                f'<text x="{label_w + chart_w + 6}" y="{y + 14}">{html.escape(_detail(bar))}</text>'
            )
        parts.append("</svg>")
        return "".join(parts)


def _label(bar: Bar) -> str:
    mark = "✗ " if bar.failed else ""
    return clean(f"{mark}{'chat' if bar.kind == 'model' else 'tool'} {bar.label}", one_line=True)


def _detail(bar: Bar) -> str:
    text = bar.note if bar.failed and bar.note else bar.detail
    return clean(text, one_line=True)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _seconds(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:g}s"


def _ticks(total: float, most: int = 6) -> list[float]:
    """Round tick positions from 0 up to ``total``, at most ``most`` of them."""
    if total <= 0:
        return [0.0]
    for step in (
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5,
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600,
    ):  # fmt: skip
        if total / step <= most - 1:
            return [i * step for i in range(int(total / step + 1e-9) + 1)]
    return [0.0, total]


def _axis(total: float, room: int) -> str:
    """Tick labels placed on ``room`` columns, none overlapping nor overflowing."""
    cells = [" "] * room
    free = 0
    for value in _ticks(total):
        text = _seconds(value)
        at = int(value / total * room) if total > 0 else 0
        if at < free or at + len(text) > room:
            continue
        cells[at : at + len(text)] = text
        free = at + len(text) + 1
    return "".join(cells).rstrip()


def _tokens(usage: Mapping[str, Any] | None) -> str:
    if not usage:
        return ""
    return f"{_count(usage.get('input_tokens', 0))}→{_count(usage.get('output_tokens', 0))} tok"


def _count(n: Any) -> str:
    value = int(n or 0)
    return f"{value / 1000:.1f}k" if value >= 1000 else str(value)


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    return f"{n / 1000:.1f} KB" if n >= 1000 else f"{n} B"


def _turns(messages: Sequence[Any]) -> list[tuple[str, list[Any]]]:
    """(question, the messages after it) for each user message."""
    found: list[tuple[str, list[Any]]] = []
    for m in messages:
        if getattr(m, "type", "") == "human":
            found.append((_text(m.content), []))
        elif found:
            found[-1][1].append(m)
    return found


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def _bars(messages: Sequence[Any]) -> list[Bar]:
    raw: list[tuple[str, str, float, float, str, bool, str]] = []
    for m in messages:
        record = (getattr(m, "response_metadata", None) or {}).get(TIMING)
        if not isinstance(record, Mapping):
            continue
        if m.type == "ai":
            for failure in record.get("failed") or ():
                start, end = float(failure["start"]), float(failure["end"])
                raw.append(("model", str(failure["model"]), start, end, "", True, failure["error"]))
            last_failed_end = max((float(f["end"]) for f in record.get("failed") or ()), default=0)
            start = max(float(record["start"]), last_failed_end)
            stopped = m.response_metadata.get(STOPPED_EARLY)
            note = "stopped early" if stopped else ""
            detail = _tokens(getattr(m, "usage_metadata", None))
            model = str(record.get("model", ""))
            raw.append(("model", model, start, float(record["end"]), detail, False, note))
        elif m.type == "tool":
            outcome = str(record.get("outcome", "ok"))
            size = _size(int(record.get("bytes", 0)))
            failed = outcome != "ok"
            note = "repeated" if outcome == "repeated" else "error"
            start, end = float(record["start"]), float(record["end"])
            raw.append(("tool", str(m.name or "tool"), start, end, size, failed, note))
    if not raw:
        return []
    zero = min(r[2] for r in raw)
    return [
        Bar(kind, label, start - zero, end - zero, detail, failed, note)  # type: ignore[arg-type]
        for kind, label, start, end, detail, failed, note in sorted(raw, key=lambda r: r[2])
    ]


def timeline(messages: Sequence[Any], turn: int | None = None) -> Timeline:
    """The waterfall of turn ``turn`` (1 is the first; None, the last) of a thread.

    Raises ``IndexError`` when the thread has no such turn.
    """
    turns = _turns(messages)
    if not turns:
        raise IndexError("this thread has no turns yet")
    number = len(turns) if turn is None else turn
    if not 1 <= number <= len(turns):
        raise IndexError(f"turn {number} does not exist: this thread has {len(turns)}")
    question, after = turns[number - 1]
    return Timeline(turn=number, turns=len(turns), question=question, bars=_bars(after))
