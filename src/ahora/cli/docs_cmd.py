"""``ahora docs``: index folders of documents, list them, remove them, search them.

Mounted into the main CLI as ``ahora docs``. Only typer is imported at module level;
the index is imported inside each command, and LangChain never is, so these
commands start fast. Every command runs inside ``handled_errors``: user errors (a
missing folder, a config file that does not load) print one line on stderr and exit
with code 2, without a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ahora.cli.common import DebugOpt, WholeCommandList, fail, handled_errors
from ahora.cli.message import echo
from ahora.safe_text import clean
from ahora.settings import get_settings

if TYPE_CHECKING:
    from ahora.docs.index import DocIndex

__all__ = ["app"]

app = typer.Typer(
    cls=WholeCommandList,
    name="docs",
    help="Index folders of your documents so agents can search them (search_docs).",
    no_args_is_help=True,
)

_Folder = Annotated[Path, typer.Argument(help="A folder of Markdown, text, HTML or PDF files.")]
_Embeddings = Annotated[
    bool,
    typer.Option(
        "--embeddings",
        help="Also rank by meaning with a local embedding model (needs ahora[embeddings]).",
    ),
]


def _name(path: object) -> str:
    """A file or folder name on one line, controls and newlines shown (names are outside text)."""
    return clean(str(path), one_line=True)


def _open(embeddings: bool = False) -> DocIndex:
    from ahora.docs.index import DocIndex

    path = get_settings().docs_db  # the CLI is an edge: settings are read here
    if not embeddings:
        return DocIndex(path)
    from ahora.docs.embeddings import EmbeddingsUnavailable, default_embedder

    try:
        return DocIndex(path, embedder=default_embedder())
    except EmbeddingsUnavailable as exc:
        raise fail(str(exc)) from None


@app.command("add")
def add(folder: _Folder, embeddings: _Embeddings = False, debug: DebugOpt = False) -> None:
    """Index FOLDER, or bring its index up to date (unchanged files cost nothing)."""
    from ahora.cli.layout import plural

    with handled_errors(debug=debug), _open(embeddings) as index:
        s = index.add(folder)  # NotAFolder is a ConfigurationError: one line, exit 2
    echo(
        f"Indexed {_name(s.folder)}: {s.added} added, {s.updated} updated, "
        f"{s.unchanged} unchanged, {s.removed} removed, {s.skipped} skipped; "
        f"{plural(s.chunks, 'chunk')} in {s.seconds:.2f} s",
        err=False,
    )
    for rel, reason in s.skipped_files[:20]:
        echo(f"  skipped {_name(rel)}: {reason}", err=False)
    if len(s.skipped_files) > 20:
        typer.echo(f"  ... and {len(s.skipped_files) - 20} more skipped")


@app.command("list")
def list_(debug: DebugOpt = False) -> None:
    """List indexed folders with their file and chunk counts."""
    from ahora.cli.layout import plural

    with handled_errors(debug=debug), _open() as index:
        folders = index.folders()
    if not folders:
        typer.echo("No folders indexed. Add one with: ahora docs add DIR")
        return
    for f in folders:
        when = datetime.fromtimestamp(f.indexed_at).strftime("%Y-%m-%d %H:%M")
        skipped = f", {f.skipped} skipped" if f.skipped else ""
        counts = f"{plural(f.files, 'file')}, {plural(f.chunks, 'chunk')}{skipped}"
        typer.echo(clean(f"{_name(f.path)}  {counts}  (indexed {when})"))


@app.command("rm")
def rm(folder: _Folder, debug: DebugOpt = False) -> None:
    """Forget FOLDER: its passages no longer appear in searches (files are not touched)."""
    with handled_errors(debug=debug), _open() as index:
        removed = index.remove(folder)
    if not removed:
        raise fail(f"{folder} is not indexed (see: ahora docs list)")
    echo(f"Removed {Path(folder).expanduser().resolve()} from the index.", err=False)


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="Words to look for.")],
    limit: Annotated[int, typer.Option("--limit", "-k", min=1, help="How many passages.")] = 5,
    folder: Annotated[
        Path | None, typer.Option("--folder", help="Only search this indexed folder.")
    ] = None,
    embeddings: _Embeddings = False,
    debug: DebugOpt = False,
) -> None:
    """Search the indexed documents, as the search_docs tool does."""
    with handled_errors(debug=debug), _open(embeddings) as index:
        hits = index.search(query, k=limit, folder=folder)
    if not hits:
        typer.echo("No matches.")
        return
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 0
    for n, hit in enumerate(hits, 1):
        text = " ".join(hit.text.split())
        snippet = text if len(text) <= 300 else text[:300] + "…"
        typer.echo(clean(f"[{n}] {_name(hit.citation)}  (score {hit.score:.3g})"))
        # A terminal gets the passage wrapped at words under its reference; a pipe,
        # one line.
        snippet = clean(snippet, one_line=True)
        typer.echo(
            textwrap.fill(snippet, width, initial_indent=" " * 4, subsequent_indent=" " * 4)
            if width > 20
            else "    " + snippet
        )
