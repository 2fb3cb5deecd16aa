"""Tool calls that need a human's yes, decided in the terminal.

``make_approver`` builds the ``Approver`` that ``ask`` and ``chat`` hand to
``Session.ask``, called when a run pauses (the profile's ``approval`` list, or a tool
marked ``requires_approval``):

* ``--yes``: every call is approved;
* on a terminal: each call is shown (tool and arguments) and answered y/n; the live
  status is paused meanwhile, and Ctrl-C cancels the turn as it does elsewhere;
* otherwise (piped, no ``--yes``): every call is rejected and stderr says so, so a
  script never hangs waiting for an answer nobody can type.

A rejected call is reported to the model by the core, and the run goes on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ahora.safe_text import clean, json_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from ahora.cli.render import Renderer
    from ahora.cli.session import Approver

__all__ = ["format_call", "make_approver", "question", "question_console"]


def _quoted(value: Any, limit: int) -> str:
    """A value as JSON, cut visibly: ``"abc"… (+1,234 chars)``; controls stay escaped."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    cut = len(text) - limit
    if cut > 0:
        text = text[:limit]
    shown = json.dumps(text, ensure_ascii=False) if isinstance(value, str) else text
    shown = json_text(shown) if isinstance(value, str) else clean(shown)
    return shown + (f"… (+{cut:,} chars)" if cut > 0 else "")


def _name(name: Any, limit: int = 80) -> str:
    """A tool or argument name: bare when it is a plain identifier, else quoted."""
    text = str(name)
    return text if text.isascii() and text.isidentifier() else _quoted(text, limit)


def format_call(call: Mapping[str, Any], limit: int = 200) -> str:
    """``calculator(expression="2+2")``: exactly what will run.

    The model chose every part, so each is shown as data: a name that is not a plain
    identifier is quoted, values are JSON with control characters escaped, each value
    is cut at ``limit`` characters with the count of what was cut, and no argument is
    left out.
    """
    args = call.get("args") or {}
    if not isinstance(args, Mapping):
        args = {"(arguments)": args}
    # Every argument, however many: the one that matters could be the last.
    parts = [f"{_name(key)}={_quoted(value, limit)}" for key, value in args.items()]
    return f"{_name(call.get('name', '?'))}({', '.join(parts)})"


def question_console(out: Console) -> Console | None:
    """The terminal to ask on: stdout's, else stderr's (``ahora ask ... > file``);
    None when stdin is not a terminal (nobody could answer)."""
    if not sys.stdin.isatty():
        return None
    if out.is_terminal:
        return out
    from ahora.cli.common import make_console

    err = make_console(stderr=True, no_color=out.no_color)
    return err if err.is_terminal else None


def question(call: Mapping[str, Any]) -> Text:
    """``? Allow calculator(expression="2+2")``, the question asked before ``[y/n]``.

    A ``Text``, not markup: no ``[tags]`` nor ``:emoji:`` codes in the call are read.
    """
    from rich.text import Text

    return Text.assemble(("?", "yellow"), " Allow ", (format_call(call), "bold"))


def _confirm(console: Console, call: Mapping[str, Any]) -> bool:
    from rich.prompt import Confirm

    try:
        return Confirm.ask(question(call), console=console, default=False)
    except EOFError:
        return False


def make_approver(
    renderer: Renderer,
    *,
    yes: bool,
    ask_on: Console | None,
    note: Callable[[str], None],
) -> Approver:
    """The approver for one command.

    Args:
        renderer: Stopped while asking (its live status would draw over the question).
        yes: Approve everything (``--yes``).
        ask_on: The terminal to ask on; None when there is none.
        note: Where "approved (--yes)" lines go (a dim line, or nowhere).
    """

    def approve(pending: list[dict[str, Any]]) -> list[bool]:
        if yes:
            for call in pending:
                note(f"Approved {format_call(call)} (--yes).")
            return [True] * len(pending)
        if ask_on is None:
            for call in pending:
                sys.stderr.write(
                    f"Declined {format_call(call)}: it needs approval, and there is no "
                    "terminal to ask on (pass --yes to approve).\n"
                )
            sys.stderr.flush()
            return [False] * len(pending)
        renderer.stop()
        try:
            return [_confirm(ask_on, call) for call in pending]
        finally:
            renderer.start()

    return approve
