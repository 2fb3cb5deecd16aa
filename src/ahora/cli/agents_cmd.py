"""``ahora agents``: list the agent profiles and show one in full.

Mounted into the main CLI as ``ahora agents`` (``app.add_typer(agents_cmd.app)``).
``ahora agents`` alone lists every profile with where it comes from; ``show`` prints
one profile's settings and the exact instructions the model receives. Only typer and
``ahora.profiles`` (standard library) are imported, so both start fast. Errors print
one line on stderr and exit with code 2.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ahora.cli.common import WholeCommandList, fail
from ahora.errors import ConfigurationError
from ahora.safe_text import clean

__all__ = ["app"]

app = typer.Typer(
    cls=WholeCommandList,
    name="agents",
    help="Agent profiles (agents/*.toml): list them, or show one with `ahora agents show NAME`.",
    invoke_without_command=True,
)


@app.callback()
def _default(ctx: typer.Context) -> None:
    """List agent profiles, or show one with `ahora agents show NAME`."""
    if ctx.invoked_subcommand is None:
        list_()


@app.command("list")
def list_() -> None:
    """List agent profiles: name, description, and the file each comes from.

    On a terminal, descriptions wrap at word boundaries with the file on a dim line
    below; piped, each profile is one line.
    """
    from rich.table import Table
    from rich.text import Text

    from ahora.cli.common import make_console
    from ahora.cli.layout import print_unpadded
    from ahora.profiles import list_profiles, profile_dirs
    from ahora.settings import get_settings

    console = make_console()
    settings = get_settings()
    infos = list_profiles(settings)
    if not infos:
        typer.echo("No agent profiles found.")
    table = Table(box=None, pad_edge=False, show_header=False, show_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for info in infos:
        where = f"{info.origin}: {info.path}"
        error = Text(f"INVALID: {info.error}", style="red") if info.error else None
        cell = error or Text(info.description)
        if console.is_terminal:
            cell.append("\n" + where, style="dim")
        else:
            cell.append(f"  [{where}]")
        table.add_row(Text(info.name), cell)
    if console.is_terminal:
        console.print(table)
    else:
        print_unpadded(console, table)
    folders = ", ".join(str(folder) for _, folder in profile_dirs(settings))
    console.print()
    searched = Text(f"Searched (later overrides earlier): {folders}", style="dim")
    console.print(searched, soft_wrap=not console.is_terminal)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A profile name, or a path to a .toml file.")],
) -> None:
    """Show a profile's settings and the instructions its model receives."""
    from ahora.profiles import EVERY_TOOL, load_profile
    from ahora.settings import get_settings

    try:
        p = load_profile(name, settings=get_settings())
    except ConfigurationError as exc:  # the profile, or the settings it is checked with
        raise fail(str(exc)) from None
    named = ["default tools" if t == EVERY_TOOL else t for t in p.tools or []]
    tools = "default tools" if p.tools is None else (", ".join(named) or "none")
    rows = [
        ("name", p.name),
        ("description", p.description),
        ("file", f"{p.path} ({p.origin})"),
        ("tools", tools),
        ("model", p.model or "auto-detected"),
        ("max_steps", str(p.max_steps) if p.max_steps else "from settings"),
        ("topics", "; ".join(p.topics) or "any"),
        ("approval", ", ".join(p.approval) or "none"),
    ]
    for key, value in rows:
        typer.echo(clean(f"{key + ':':<13}{value}"))
    typer.echo("\nInstructions (added to ahora's system prompt):\n")
    typer.echo(clean(p.system_instructions()))
