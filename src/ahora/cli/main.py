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
import re
from typing import Annotated, Any

import typer

from ahora.__about__ import __version__
from ahora.cli.common import EXIT_CODES_HELP, WholeCommandList

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


# Words that start questions and happen to be a letter away from a command
# ("does" / "docs", "what" / "chat"): never read as a mistyped command.
_QUESTION_WORDS = frozenset(
    {
        *("what", "who", "whom", "whose", "when", "where", "why", "how", "which"),
        *("is", "are", "was", "were", "does", "do", "did", "can", "could", "should"),
        *("would", "will", "shall", "may", "might", "tell", "give", "explain"),
        *("that", "this"),
    }
)
_ROOT_OPTIONS = frozenset({"--version", "--help", "-h"})
_WORD = re.compile(r"[A-Za-z][A-Za-z_-]*")


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and
    swaps of neighbours each cost 1 (``chta`` is one from ``chat``, ``aks`` from ``ask``)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            row.append(cost)
        prev2, prev = prev, row
    return prev[-1]


def close_command(word: str, commands: list[str]) -> str | None:
    """The command ``word`` is probably a typo of, if any."""
    word = word.lower()
    if word in _QUESTION_WORDS:
        return None
    best: tuple[int, str] | None = None
    for name in commands:
        distance = edit_distance(word, name)
        limit = 1 if len(name) <= 4 else 2
        if distance <= limit or difflib.SequenceMatcher(None, word, name).ratio() >= 0.8:
            best = min(best or (distance, name), (distance, name))
    return best[1] if best else None


class _AskByDefault(WholeCommandList):
    """``ahora "QUESTION"`` means ``ahora ask "QUESTION"``, with ``ask``'s options
    before the question too (``ahora --json "..."``, ``ahora -m openai:x "hi"``).

    A first word that is a typo of a command (``ahora chta``, ``ahora aks "hi"``), or
    a lone word that is no question (``ahora weather``), is refused with a "did you
    mean" before anything runs: no model call, no thread, exit 2.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        result: list[str] = super().parse_args(ctx, self._route(list(args)))
        return result

    def _route(self, args: list[str]) -> list[str]:
        ask = self.commands.get("ask")
        if not args or ask is None or args[0] in self.commands:
            return args
        at = self._after_options(ask, args)
        if at is None:  # a root option (--help, --version) or one ask does not know
            return args
        lead, rest = args[:at], args[at:]
        if rest and rest[0] in self.commands:  # ahora -v chat: the command, then its options
            return [rest[0], *lead, *rest[1:]]
        if rest and rest[0] != "--":
            self._refuse_typo(rest, after_options=bool(lead))
        return ["ask", *lead, *rest]

    @staticmethod
    def _after_options(ask: Any, args: list[str]) -> int | None:
        """Where the question starts after ``ask``'s options; None to leave ``args``
        to click (a root option, or an option ``ask`` does not have)."""
        options: dict[str, Any] = {}  # click's Option (typer vendors click)
        for param in ask.params:
            if param.param_type_name == "option":
                for name in (*param.opts, *param.secondary_opts):
                    options[name] = param
        i = 0
        while i < len(args):
            arg = args[i]
            if arg in ("-", "--") or not arg.startswith("-"):
                break
            if arg in _ROOT_OPTIONS:
                return None
            name, eq, _ = arg.partition("=")
            option = options.get(name)
            if option is not None:
                i += 1 if option.is_flag or option.count or eq else 2
                continue
            short = options.get(arg[:2]) if not arg.startswith("--") else None
            if short is not None and not short.is_flag:  # -mopenai:x
                i += 1
                continue
            if short is not None and all(
                (o := options.get("-" + c)) is not None and o.is_flag for c in arg[1:]
            ):  # -vq
                i += 1
                continue
            return None
        return min(i, len(args))

    def _refuse_typo(self, rest: list[str], *, after_options: bool) -> None:
        """Exit 2 with a "did you mean" when ``rest`` starts like a command, not a
        question. After ``ask``'s options (``ahora -v "hi"``) a lone word is a
        question: only a near miss of a command is refused."""
        first = rest[0]
        if not _WORD.fullmatch(first):
            return
        visible = [name for name, cmd in self.commands.items() if not cmd.hidden]
        guess = close_command(first, visible)
        if guess is None and (len(rest) > 1 or after_options):
            return
        from ahora.cli.common import USAGE
        from ahora.cli.message import echo

        shown = " ".join(rest)
        if guess is not None:
            tail = " ".join(rest[1:])
            meant = f"ahora {guess}" + (f" {tail}" if tail else "")
            echo(f"Error: `{first}` is not a command. Did you mean `{meant}`?")
        else:
            echo(f"Error: `{first}` is not a command. Commands: {', '.join(sorted(visible))}.")
        echo(f'To ask it as a question: ahora ask "{shown}"')
        raise typer.Exit(USAGE)


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
