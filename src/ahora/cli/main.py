"""The ``ahora`` command: the app, its command modules, and ``main()``.

Adding a command group is one module plus one line in ``COMMAND_MODULES``: the
module exposes ``app``, a ``typer.Typer``. Unnamed, its commands join the top level
(``ahora ask``); named (``typer.Typer(name="threads")``), it becomes a group
(``ahora threads ...``). A module may also add commands to an existing group by
decorating that group's ``app`` (``@threads_cmd.app.command("export")``).

Modules import only typer and light parts of ahora at import time, so ``--help``,
``ahora tools`` and ``ahora threads`` start in a fraction of a second. A bare
``ahora "QUESTION"`` runs ``ahora ask``.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ahora.__about__ import __version__
from ahora.cli.common import EXIT_CODES_HELP

__all__ = ["COMMAND_MODULES", "app", "main"]

# (module, required). Optional modules are skipped when they cannot be imported.
COMMAND_MODULES: tuple[tuple[str, bool], ...] = (
    ("ahora.cli.ask_cmd", True),
    ("ahora.cli.chat_cmd", True),
    ("ahora.cli.threads_cmd", True),
    ("ahora.cli.info_cmd", True),
    ("ahora.cli.config_cmd", True),
    ("ahora.cli.agents_cmd", True),
    ("ahora.cli.trust_cmd", True),
    ("ahora.cli.docs_cmd", False),
)

HELP = """\
Ask questions that need what is true now: the agent searches the web, reads pages,
checks the weather, calculates and tells the time, then answers with its sources.

\b
  ahora "what's the weather in Santiago tomorrow?"
  ahora chat
  echo "who won yesterday's match?" | ahora ask --json
"""


class _AskByDefault(TyperGroup):
    """``ahora "QUESTION"`` means ``ahora ask "QUESTION"`` (unless it looks like a typo
    of a command, which gets click's "No such command" instead)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if (
            args
            and not args[0].startswith("-")
            and args[0] not in self.commands
            and not difflib.get_close_matches(args[0], list(self.commands), n=1, cutoff=0.8)
        ):
            args = ["ask", *args]
        result: list[str] = super().parse_args(ctx, args)
        return result


app = typer.Typer(
    name="ahora",
    cls=_AskByDefault,
    help=HELP,
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help costs ~0.15 s of imports (rich.markdown ...).
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ahora {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """The ahora command line."""
    from ahora.cli.common import plain_warnings

    plain_warnings()  # one line each ("Warning: skipped ./tools ..."), for every command


def _mount() -> None:
    for module_name, required in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            if required:
                raise
            continue
        app.add_typer(module.app)


_mount()


def main() -> None:
    """Entry point of the ``ahora`` console script."""
    app()
