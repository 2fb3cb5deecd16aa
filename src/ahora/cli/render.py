"""Draw a run's typed events (``ahora.events``) for people.

Two consumers of the one event stream:

* ``TerminalRenderer``: a live status line in words ("Searching the web for ...")
  with a spinner, one permanent line per finished tool call (✓ or ✗ with the error),
  the answer streamed as it is written, then rendered as Markdown, numbered
  sources and a dim footer (steps, tokens, time, model, thread).
* ``PlainRenderer``: for pipes and ``--json``: the answer alone on stdout, progress
  on stderr only when asked (``--verbose``), tool failures and a stop at a budget
  on stderr unless quiet.

Approval requests only change the status line: the approver (``approvals.py``)
shows the calls and asks.

The console is injected (rich ``Console``), so tests render to a ``StringIO`` at a
fixed width. Importing this module loads rich's live display but not LangChain nor
rich's Markdown (imported when there is text to draw): ``ahora ask`` shows
its first status line before the heavy imports start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TextIO
from urllib.parse import urlsplit

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

from ahora.cli.layout import answer_markdown, link_text, plural
from ahora.events import (
    ApprovalRequested,
    Event,
    Finished,
    StepStarted,
    SubagentEvent,
    Token,
    ToolCalled,
    ToolFinished,
    UsageReported,
)
from ahora.safe_text import clean

if TYPE_CHECKING:
    from ahora.answer import Answer

__all__ = [
    "PlainRenderer",
    "Renderer",
    "TerminalRenderer",
    "describe_call",
    "footer_text",
    "stopped_text",
]


class Renderer(Protocol):
    """What ``ask`` and ``chat`` feed events to."""

    def start(self) -> None: ...

    def handle(self, event: Event) -> None: ...

    def note(self, text: str) -> None:
        """A side remark (approved by --yes, folder indexed): dim, or on stderr."""

    def stop(self) -> None: ...


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return _short(url)
    host = parts.hostname or url
    return host.removeprefix("www.") + (
        _short(parts.path, 30) if parts.path not in ("", "/") else ""
    )


def describe_call(name: str, args: Mapping[str, Any]) -> str:
    """A tool call in words, for the status line ("Reading example.org")."""

    def arg(key: str) -> str:
        value = args.get(key)
        return "" if value is None else str(value)

    if name == "web_search":
        return f'Searching the web for "{_short(arg("query"))}"'
    if name == "read_page":
        return f"Reading {_host(arg('url'))}"
    if name == "weather":
        place = _short(arg("location"))
        return f"Weather for {place}" if place else "Weather"
    if name == "calculator":
        return f"Calculating {_short(arg('expression'), 40)}".rstrip()
    if name == "clock":
        zone = arg("timezone")
        return f"Checking the clock in {_short(zone, 40)}" if zone else "Checking the clock"
    if name == "search_docs":
        return f'Searching your documents for "{_short(arg("query"))}"'
    if set(args) == {"task"}:  # another agent (ahora.subagents)
        return f"Asking {name}"
    return f"Running {name}"


class _Nesting:
    """Where a sub-agent's lines go (``ahora.subagents``): a header when its first event
    arrives (``▸ researcher: "the task"``), then its finished tool calls indented under
    it, one level per agent; the caller's own ✓ line for the call follows when it
    returns. Nested calls in flight feed the status line."""

    def __init__(self) -> None:
        self.tasks: dict[str, str] = {}  # call id -> the task given to the agent it called
        self.opened: set[tuple[str, ...]] = set()
        self.running: dict[tuple[str, ...], tuple[str, str]] = {}  # -> (agent, what)

    def called(self, event: ToolCalled) -> None:
        task = event.args.get("task")
        if isinstance(task, str):
            self.tasks[event.call_id] = task

    def feed(self, event: SubagentEvent) -> list[Text]:
        """The lines this event adds (headers owed, a finished call), each indented."""
        lines: list[Text] = []
        path: tuple[str, ...] = ()
        level: Event = event
        agent = ""
        while isinstance(level, SubagentEvent):
            path = (*path, level.call_id)
            agent = level.agent
            if path not in self.opened:
                self.opened.add(path)
                task = self.tasks.get(level.call_id, "")
                header = f'▸ {agent}: "{_short(task)}"' if task else f"▸ {agent}"
                lines.append(Text("  " * (len(path) - 1) + clean(header, one_line=True)))
            level = level.event
        if isinstance(level, ToolCalled):
            self.called(level)
            self.running[(*path, level.call_id)] = (agent, describe_call(level.name, level.args))
        elif isinstance(level, ToolFinished):
            _, label = self.running.pop((*path, level.call_id), ("", ""))
            if (*path, level.call_id) in self.opened:  # an agent: its steps are above
                label = level.name
            label = label or describe_call(level.name, {})
            lines.append(_tool_line(clean(label, one_line=True), level, indent=len(path)))
        return lines

    def status(self) -> str:
        return " · ".join(f"{agent}: {what}" for agent, what in self.running.values())


def _tool_line(label: str, event: ToolFinished, indent: int = 0) -> Text:
    """``✓ Reading example.org · 0.3 s · 1 source`` (or ✗ with the error), indented."""
    line = Text("  " * indent)
    if event.error and _declined(event.error):
        line.append("✗ ", style="yellow")
        line.append(label)
        line.append(" declined", style="yellow")
    elif event.error:
        line.append("✗ ", style="bold red")
        line.append(label)
        line.append(f" failed: {_short(clean(event.error, one_line=True), 200)}", style="red")
    else:
        line.append("✓ ", style="green")
        line.append(label)
        extra = f" · {event.seconds:.1f} s"
        if event.sources:
            extra += f" · {plural(len(event.sources), 'source')}"
        line.append(extra, style="dim")
    return line


def footer_text(answer: Answer) -> str:
    """``3 steps · 1,234+56 tokens · 2.1 s · model · thread 1a2b3c4d``."""
    usage = answer.usage
    parts = [
        plural(answer.steps, "step"),
        f"{usage['input_tokens']:,}+{usage['output_tokens']:,} tokens",
        f"{answer.seconds:.1f} s",
    ]
    if answer.model:
        parts.append(answer.model)
    if answer.thread_id:
        parts.append(f"thread {answer.thread_id[:8]}")
    return " · ".join(parts)


def _declined(error: str) -> bool:
    """A tool call the user declined (LangChain's approval middleware says so)."""
    return "rejected the tool call" in error


def stopped_text(hint: str = "", reason: str | None = None, *, answer: str = "") -> str:
    """The line under an answer that stopped at a budget (steps, tokens, time, loop);
    only the hint when the ``answer`` says so itself (the wrap-up at a limit does)."""
    if "stopped early" in answer.lower():
        return hint
    return f"Stopped early: {reason or 'budget reached'}." + (f" {hint}" if hint else "")


class _LiveView:
    """The live area: the tail of the answer being written, then the spinner line."""

    def __init__(self) -> None:
        self.text = ""
        self.spinner = Spinner("dots", text=Text("Thinking ...", style="dim"))

    def set_status(self, status: str) -> None:
        self.spinner.update(text=Text(clean(status, one_line=True), style="dim"))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.text:
            lines = console.render_lines(answer_markdown(self.text), options, pad=False)
            room = max(1, console.size.height - 2)
            for line in lines[-room:]:
                yield from line
                yield Segment.line()
        yield self.spinner


class TerminalRenderer:
    """Status, streamed answer, sources and footer on a rich console."""

    def __init__(
        self,
        console: Console,
        *,
        verbose: bool = False,
        quiet: bool = False,
        stopped_hint: str = "",
    ) -> None:
        """``stopped_hint`` follows "Stopped early: ..." (how to go on, e.g. /continue)."""
        self.console = console
        self.verbose = verbose
        self.quiet = quiet
        self.stopped_hint = stopped_hint
        self.view = _LiveView()
        self.live: Live | None = None
        self.running: dict[str, str] = {}
        self.nesting = _Nesting()

    def start(self) -> None:
        """Show "Thinking ..." now (call before anything slow)."""
        if self.quiet or self.live is not None:
            return
        self.live = Live(
            self.view,
            console=self.console,
            transient=True,
            refresh_per_second=12,
            vertical_overflow="visible",
        )
        self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def status(self, text: str) -> None:
        self.view.set_status(text)

    def note(self, text: str) -> None:
        if not self.quiet:
            self._print(Text(text, style="dim"))

    def _print(self, *objects: Any, style: str | None = None) -> None:
        self.console.print(*objects, style=style, highlight=False, soft_wrap=False)

    def _print_line(self, text: Text) -> None:
        """One line cut to the terminal's width with an ellipsis (long URLs stay one line;
        the full URL is still the hyperlink target)."""
        self.console.print(text, highlight=False, no_wrap=True, overflow="ellipsis")

    def handle(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self.view.text = ""
            self.status("Thinking ..." if event.step == 1 else "Reading the results ...")
            if self.verbose and not self.quiet:
                self._print(Text(f"step {event.step}", style="dim"))
        elif isinstance(event, Token):
            self.view.text += event.text
            self.status("Writing ...")
        elif isinstance(event, ToolCalled):
            # Text before a tool call is the model thinking aloud, not the answer.
            self.view.text = ""
            self.running[event.call_id] = describe_call(event.name, event.args)
            self.nesting.called(event)
            self._running_status()
        elif isinstance(event, ToolFinished):
            self._tool_finished(event)
        elif isinstance(event, SubagentEvent):
            for line in self.nesting.feed(event):
                if not self.quiet:
                    self._print_line(line)
            self._running_status()
        elif isinstance(event, ApprovalRequested):
            self.status(f"{describe_call(event.name, event.args)} needs your approval ...")
        elif isinstance(event, UsageReported):
            pass
        elif isinstance(event, Finished):
            self.stop()
            self.show_answer(event.answer)

    def _running_status(self) -> None:
        """What runs now: the caller's calls, or what its sub-agents are doing."""
        nested = self.nesting.status()
        if nested or self.running:
            self.status((nested or " · ".join(self.running.values())) + " ...")

    def _tool_finished(self, event: ToolFinished) -> None:
        label = self.running.pop(event.call_id, None) or describe_call(event.name, {})
        if (event.call_id,) in self.nesting.opened:  # its steps are listed above
            label = event.name
        label = clean(label, one_line=True)  # outside text is cleaned before rich measures it
        self._running_status()
        if self.quiet:
            return
        self._print(_tool_line(label, event))
        if self.verbose and event.preview:
            self._print(Text("  " + clean(event.preview), style="dim"))

    def show_answer(self, answer: Answer) -> None:
        """The final answer as Markdown, its sources, and the footer."""
        if answer.text.strip():
            self._print(answer_markdown(answer.text))
        else:
            self._print(Text("(the model gave no answer)", style="dim"))
        line = stopped_text(self.stopped_hint, answer.stop_reason, answer=answer.text)
        if answer.stopped_early and line and not self.quiet:
            self._print(Text(line, style="dim"))
        sources = answer.cited_sources
        if sources:
            self._print(Text("\nSources", style="bold"))
            for i, src in enumerate(sources, 1):
                url = src["url"]
                title = src.get("title") or ""
                self._print_line(Text(clean(f"{i}. {title or url}", one_line=True)))
                if title:
                    self._print_line(link_text(url, indent=3))
        if not self.quiet:
            self._print(Text(footer_text(answer), style="dim"))


class PlainRenderer:
    """The answer alone on ``out`` (None: print nothing, as for ``--json``).

    Progress lines go to ``err`` when ``verbose``; tool failures go there unless ``quiet``.
    """

    def __init__(
        self,
        out: TextIO | None,
        err: TextIO,
        *,
        verbose: bool = False,
        quiet: bool = False,
        stopped_hint: str = "",
    ) -> None:
        self.out = out
        self.err = err
        self.verbose = verbose
        self.quiet = quiet
        self.stopped_hint = stopped_hint
        self.answer: Answer | None = None
        self.running: dict[str, str] = {}
        self.nesting = _Nesting()

    def start(self) -> None:
        if self.verbose:
            self._err("Thinking ...")

    def stop(self) -> None:
        pass

    def note(self, text: str) -> None:
        if self.verbose:
            self._err(text)

    def _err(self, line: str) -> None:
        self.err.write(clean(line) + "\n")
        self.err.flush()

    def handle(self, event: Event) -> None:
        if isinstance(event, StepStarted) and self.verbose and event.step > 1:
            self._err("Reading the results ...")
        elif isinstance(event, ToolCalled):
            self.running[event.call_id] = describe_call(event.name, event.args)
            self.nesting.called(event)
            if self.verbose:
                self._err(self.running[event.call_id] + " ...")
        elif isinstance(event, SubagentEvent):
            for nested in self.nesting.feed(event):
                if self.verbose:
                    self._err(nested.plain)
        elif isinstance(event, ToolFinished):
            label = self.running.pop(event.call_id, None) or describe_call(event.name, {})
            if event.error and _declined(event.error):
                if self.verbose:
                    self._err(f"{label} declined")
            elif event.error and not self.quiet:
                self._err(f"{label} failed: {_short(event.error, 200)}")
            elif self.verbose and event.preview:
                self._err("  " + event.preview)
        elif isinstance(event, Finished):
            self.answer = event.answer
            if self.verbose:
                self._err(footer_text(event.answer))
            a = event.answer
            shown = a.text if self.out is not None else ""  # --json: the text is not shown
            line = stopped_text(self.stopped_hint, a.stop_reason, answer=shown)
            if a.stopped_early and line and not self.quiet:
                self._err(line)
            if self.out is not None:
                self.out.write(clean(event.answer.text.rstrip("\n")) + "\n")
                self.out.flush()
