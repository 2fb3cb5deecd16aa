"""``ahora threads``: list, show, delete and export saved conversations.

Reads ahora's thread index (``ahora.threads.ThreadIndex``) with plain ``sqlite3``, or
psycopg when ``AHORA_POSTGRES_URL`` is set: no LangChain, no LangGraph, so it starts
fast. Ids may be given whole, as a unique prefix, or as ``last``. ``export`` lives in
``export_cmd.py`` and is attached here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ahora.cli import export_cmd
from ahora.cli.common import (
    DebugOpt,
    NoColorOpt,
    WholeCommandList,
    fail,
    handled_errors,
    make_console,
)
from ahora.cli.message import echo
from ahora.safe_text import clean, json_text
from ahora.settings import get_settings
from ahora.threads import ThreadIndex, ThreadInfo

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["app", "print_threads"]

app = typer.Typer(
    cls=WholeCommandList,
    name="threads",
    help="Saved conversations: list them, show, delete or export them.",
    invoke_without_command=True,
)


def _ago(ts: float, now: float | None = None) -> str:
    seconds = max(0.0, (now or time.time()) - ts)
    if seconds < 60:
        return "just now"
    for size, unit in ((86400 * 7, "w"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


_GAP = 2
_MIN_TITLE = 12


def _fit(widths: dict[str, int], room: int) -> tuple[int, list[str]]:
    """The title's width and the columns that stay at ``room`` columns.

    The id is never cut nor dropped (``threads show``, ``--thread`` and ``rm`` need
    it): the title gives way first, then the model and the age are dropped.
    """
    shown = ["id", "title", "updated", "turns", "model"]
    for drop in ("", "model", "updated", "turns"):
        if drop:
            shown.remove(drop)
        others = sum(widths[c] + _GAP for c in shown if c != "title")
        if room - others >= min(_MIN_TITLE, widths["title"]):
            return min(widths["title"], room - others), shown
    return max(1, room - widths["id"] - _GAP), shown


def print_threads(
    console: Console, threads: Sequence[ThreadInfo], *, current: str | None = None
) -> None:
    """A table of threads (id prefix, title, last update, turns, model).

    On a terminal the table fits its width: titles are cut with an ellipsis, the id
    never is. Piped, every value is whole and lines carry no padding. Titles and
    models go in as ``Text``: a title is the user's first question, and ``[`` in it
    must not be read as rich markup.
    """
    from rich.table import Table
    from rich.text import Text

    from ahora.cli.layout import print_unpadded

    if not threads:
        console.print("No saved threads yet. Start one with `ahora ask` or `ahora chat`.")
        return
    rows = [
        {
            "id": t.id[:8] + ("*" if t.id == current else ""),
            "title": clean(t.title, one_line=True),  # before the widths are measured
            "updated": _ago(t.updated),
            "turns": str(t.turns),
            "model": clean(t.model or "", one_line=True),
        }
        for t in threads
    ]
    widths = {key: max(len(key), *(len(r[key]) for r in rows)) for key in rows[0]}
    if console.is_terminal:
        if sum(widths.values()) + _GAP * (len(widths) - 1) > console.width:
            widths["model"] = min(widths["model"], 28)
        widths["title"], shown = _fit(widths, console.width)
    else:
        shown = list(widths)
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", padding=(0, 1))
    for key in shown:
        table.add_column(
            key,
            width=widths[key],
            no_wrap=True,
            overflow="ellipsis",
            justify="right" if key == "turns" else "left",
            style="dim" if key in ("updated", "model") else None,
        )
    for r in rows:
        table.add_row(*(Text(r[key]) for key in shown))
    if console.is_terminal:
        console.print(table)
    else:
        print_unpadded(console, table)


_RECENT = 20
"""Threads ``ahora threads`` lists without ``--all``."""


@app.callback(invoke_without_command=True)
def threads(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", "-a", help="All of them, not the last 20.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per thread.")] = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List saved threads, most recent first."""
    if ctx.invoked_subcommand is not None:
        return
    with handled_errors(debug=debug), ThreadIndex.for_settings(get_settings()) as index:
        found = index.list(limit=None if show_all else _RECENT + 1)
        total = len(index.list()) if len(found) > _RECENT else len(found)
    found = found if show_all else found[:_RECENT]
    if as_json:
        for t in found:
            typer.echo(json_text(json.dumps(t.__dict__, ensure_ascii=False)))
    else:
        print_threads(make_console(no_color=no_color), found)
    if total > len(found):  # on stderr: piped output stays one thread per line
        echo(f"Showing the {len(found)} most recent of {total}; `ahora threads --all` lists all.")


def _put_subrun(put: Callable[[str, str | None], None], subrun: Any, depth: int) -> None:
    """What another agent did for this turn (``ahora.subagents``): its task, then its
    tool calls in words, indented one level per agent."""
    from ahora.cli.layout import plural
    from ahora.cli.render import describe_call

    if not isinstance(subrun, dict):
        return
    indent = "  " * depth
    task = " ".join(str(subrun.get("task") or "").split())
    steps = plural(int(subrun.get("steps") or 0), "step")
    put(f'{indent}▸ {subrun.get("agent", "agent")}: "{task}" · {steps}', "dim")
    for call in subrun.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        if isinstance(call.get("subagent"), dict):  # another agent: its own block
            _put_subrun(put, call["subagent"], depth + 1)
            continue
        args = call.get("args")
        args = args if isinstance(args, dict) else {}
        put(f"{indent}  {describe_call(str(call.get('name', '')), args)}", "dim")


@app.command("show")
def show(
    thread_id: Annotated[str, typer.Argument(help="Thread id, unique prefix, or 'last'.")],
    timeline: Annotated[
        bool,
        typer.Option(
            "--timeline", help="Draw the last turn's model and tool calls on a time axis."
        ),
    ] = False,
    turn_number: Annotated[
        int | None,
        typer.Option("--turn", min=1, help="With --timeline: this turn (1 is the first)."),
    ] = None,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Print one thread: each question, its answer and sources."""
    from rich.text import Text

    from ahora.cli.layout import answer_markdown, link_text, plural

    if turn_number is not None and not timeline:
        raise fail("--turn goes with --timeline")
    console = make_console(no_color=no_color)
    with handled_errors(debug=debug), ThreadIndex.for_settings(get_settings()) as index:
        info = index.resolve(thread_id)
        turns = index.turns(info.id)
        if timeline:
            _print_timeline(console, info.id, turn_number)
            return
    piped = not console.is_terminal

    def put(text: str, style: str | None = None) -> None:
        # A terminal wraps at word boundaries; a pipe gets each line whole.
        # Cleaned first: rich would drop BEL and CR unseen and mis-measure the rest.
        console.print(Text(clean(text), style=style or ""), soft_wrap=piped)

    when = datetime.fromtimestamp(info.created).strftime("%Y-%m-%d %H:%M")
    header = [f"thread {info.id}", when, plural(info.turns, "turn")]
    put(info.title, "bold")
    put(" · ".join(header + ([info.model] if info.model else [])), "dim")
    for turn in turns:
        console.print()
        put(f"› {turn.question}", "bold cyan")
        for call in turn.tool_calls:
            _put_subrun(put, call.get("subagent"), depth=1)
        if piped:  # as written: no markup
            put(turn.answer)
        else:
            console.print(answer_markdown(turn.answer))
        for i, src in enumerate(turn.sources, 1):
            url = src.get("url", "")
            title = src.get("title") or ""
            if piped:  # whole URLs, one line each
                put(f"  {i}. {title} {url}".rstrip())
                continue
            # As ``ask`` shows them: one line each, long URLs cut (the link keeps it all).
            line = Text(clean(f"  {i}. {title or url}", one_line=True))
            console.print(line, no_wrap=True, overflow="ellipsis")
            if title:
                console.print(link_text(url, indent=5), no_wrap=True, overflow="ellipsis")
    if not turns:
        console.print(Text("(no finished turns)", style="dim"))


def _print_timeline(console: Console, thread_id: str, turn: int | None) -> None:
    """The turn as a waterfall (``ahora.timeline``), from the thread's saved messages.

    Reading them needs LangGraph's saver, so it is imported here, only for this option.
    """
    from rich.text import Text

    from ahora.threads import close_checkpointer, open_checkpointer
    from ahora.timeline import timeline as make_timeline

    saver = open_checkpointer(get_settings())
    try:
        found = saver.get_tuple({"configurable": {"thread_id": thread_id}})
    finally:
        close_checkpointer(saver)
    messages = list((found.checkpoint["channel_values"].get("messages") or []) if found else [])
    try:
        drawn = make_timeline(messages, turn)
    except IndexError as exc:
        raise fail(str(exc)) from None
    width = console.width if console.is_terminal else 80
    for i, line in enumerate(drawn.lines(width)):
        style = "bold cyan" if i == 0 else "dim" if i in (1, 2) else ""
        if "✗" in line[:3]:
            style = "red"
        # Already cleaned and cut to the width: printed as it is, never wrapped.
        console.print(Text(line, style=style), no_wrap=True, overflow="crop", soft_wrap=False)


@app.command("rm")
def rm(
    thread_ids: Annotated[list[str], typer.Argument(help="Thread ids or unique prefixes.")],
    debug: DebugOpt = False,
) -> None:
    """Delete threads (their messages and saved state)."""
    with handled_errors(debug=debug), ThreadIndex.for_settings(get_settings()) as index:
        infos = [index.resolve(ref) for ref in thread_ids]
        for info in infos:
            index.delete(info.id)  # its turns and checkpoints too, in one transaction
            echo(f"Deleted {info.id[:8]} ({info.title})", err=False)


app.command("export")(export_cmd.export)
