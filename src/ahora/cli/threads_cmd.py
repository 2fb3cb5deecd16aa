"""``ahora threads``: list, show, delete and export saved conversations.

Reads ahora's thread index (``ahora.threads.ThreadIndex``) with plain ``sqlite3``, or
psycopg when ``AHORA_POSTGRES_URL`` is set: no LangChain, no LangGraph, so it starts
fast. Ids may be given whole, as a unique prefix, or as ``last``. ``export`` lives in
``export_cmd.py`` and is attached here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ahora.cli import export_cmd
from ahora.cli.common import DebugOpt, NoColorOpt, handled_errors, make_console
from ahora.safe_text import clean, json_text
from ahora.settings import get_settings
from ahora.threads import ThreadIndex, ThreadInfo

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["app", "print_threads"]

app = typer.Typer(
    name="threads",
    help="Saved conversations: list them, show one, delete one.",
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


def print_threads(
    console: Console, threads: Sequence[ThreadInfo], *, current: str | None = None
) -> None:
    """A table of threads (id prefix, title, last update, turns, model).

    Titles and models go in as ``Text``: a title is the user's first question, and
    ``[`` in it must not be read as rich markup.
    """
    from rich.table import Table
    from rich.text import Text

    if not threads:
        console.print("No saved threads yet. Start one with `ahora ask` or `ahora chat`.")
        return
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("id")
    table.add_column("title", overflow="ellipsis", no_wrap=True, max_width=60)
    table.add_column("updated", no_wrap=True)
    table.add_column("turns", justify="right")
    table.add_column("model", overflow="ellipsis", no_wrap=True)
    for t in threads:
        mark = "*" if t.id == current else ""
        table.add_row(
            t.id[:8] + mark, Text(t.title), _ago(t.updated), str(t.turns), Text(t.model or "")
        )
    console.print(table)


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
        found = index.list(limit=None if show_all else 20)
    if as_json:
        for t in found:
            typer.echo(json_text(json.dumps(t.__dict__, ensure_ascii=False)))
        return
    print_threads(make_console(no_color=no_color), found)


@app.command("show")
def show(
    thread_id: Annotated[str, typer.Argument(help="Thread id, unique prefix, or 'last'.")],
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Print one thread: each question, its answer and sources."""
    from rich.markdown import Markdown
    from rich.text import Text

    console = make_console(no_color=no_color)
    with handled_errors(debug=debug), ThreadIndex.for_settings(get_settings()) as index:
        info = index.resolve(thread_id)
        turns = index.turns(info.id)
    when = datetime.fromtimestamp(info.created).strftime("%Y-%m-%d %H:%M")
    console.print(Text(f"{info.title}", style="bold"))
    console.print(
        Text(
            f"thread {info.id} · {when} · {info.turns} turn{'s' if info.turns != 1 else ''}"
            + (f" · {info.model}" if info.model else ""),
            style="dim",
        )
    )
    for turn in turns:
        console.print()
        console.print(Text(f"› {turn.question}", style="bold cyan"))
        if console.is_terminal:
            console.print(Markdown(turn.answer))
        else:  # as written: no markup, no wrapping
            console.print(Text(turn.answer), soft_wrap=True)
        for i, src in enumerate(turn.sources, 1):
            title = f"{src.get('title')} " if src.get("title") else ""
            console.print(Text(f"  {i}. {title}{src.get('url', '')}", style="dim"))
    if not turns:
        console.print(Text("(no finished turns)", style="dim"))


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
            typer.echo(clean(f"Deleted {info.id[:8]} ({info.title})"))


app.command("export")(export_cmd.export)
