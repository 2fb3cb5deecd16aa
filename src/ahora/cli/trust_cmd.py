"""``ahora trust [DIR]``: let ahora use the tools and agents in a folder you have read.

See ``ahora.trust`` for why. Imports only the standard library and typer.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from ahora.cli.common import fail
from ahora.safe_text import clean
from ahora.settings import data_dir
from ahora.trust import UntrustableFolder, local_files, revoke, trust, trusted

__all__ = ["app"]

app = typer.Typer()


def _shown(path: Path) -> str:
    return clean(str(path), one_line=True)


@app.command("trust")
def trust_folder(
    folder: Annotated[
        Path,
        typer.Argument(
            help="The folder whose ./tools and ./agents ahora may use.", show_default=True
        ),
    ] = Path("."),
    list_: Annotated[bool, typer.Option("--list", help="List the trusted folders.")] = False,
    revoke_: Annotated[bool, typer.Option("--revoke", help="Stop trusting FOLDER.")] = False,
) -> None:
    """Trust FOLDER's tools/ tree (its *.py run as you) and agents/*.toml; asked again
    when any of those files changes.

    Until a folder is trusted, ahora skips them and says so. What runs is the source
    that was hashed, never bytecode from the folder. --tools-dir DIR and --agent PATH
    need no trust: naming them is trust.
    """
    home = data_dir()
    if list_:
        records = trusted(home)
        if not records:
            typer.echo("No trusted folders. Trust one with: ahora trust DIR")
        for r in records:
            state = "ok" if r.current else "changed since trusted: not used"
            when = datetime.fromtimestamp(r.trusted_at).strftime("%Y-%m-%d %H:%M")
            typer.echo(f"{_shown(r.folder)}  ({when}; {state})")
        return
    if revoke_:
        if not revoke(folder, home):
            raise fail(f"{_shown(folder.resolve())} is not trusted (see: ahora trust --list)")
        typer.echo(f"No longer trusted: {_shown(folder.resolve())}")
        return
    if not folder.is_dir():
        raise fail(f"{_shown(folder)} is not a folder")
    try:
        record = trust(folder, home)
    except UntrustableFolder as exc:
        raise fail(str(exc)) from exc
    files = [p.relative_to(record.folder) for p in local_files(record.folder)]
    typer.echo(f"Trusted {_shown(record.folder)}.")
    if files:
        typer.echo("ahora will use, until they change:")
        for rel in files:
            typer.echo(f"  {_shown(rel)}")
    else:
        typer.echo("It has no tools/ files nor agents/*.toml yet; add them, then trust it again.")
