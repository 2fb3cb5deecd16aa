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

from ahora.errors import InvalidProfile
from ahora.safe_text import clean

__all__ = ["app"]

app = typer.Typer(
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
    """List agent profiles: name, description, and the file each comes from."""
    from ahora.profiles import list_profiles, profile_dirs

    infos = list_profiles()
    if not infos:
        typer.echo("No agent profiles found.")
    width = max((len(i.name) for i in infos), default=0)
    for info in infos:
        if info.error:
            typer.echo(clean(f"{info.name:<{width}}  INVALID: {info.error}"))
        else:
            typer.echo(
                clean(f"{info.name:<{width}}  {info.description}  [{info.origin}: {info.path}]")
            )
    folders = ", ".join(str(folder) for _, folder in profile_dirs())
    typer.echo(f"\nSearched (later overrides earlier): {folders}")


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A profile name, or a path to a .toml file.")],
) -> None:
    """Show a profile's settings and the instructions its model receives."""
    from ahora.profiles import load_profile

    try:
        p = load_profile(name)
    except InvalidProfile as exc:
        typer.echo(clean(f"Error: {exc}"), err=True)
        raise typer.Exit(2) from None
    tools = "default tools" if p.tools is None else (", ".join(p.tools) or "none")
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
