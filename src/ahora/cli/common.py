"""What the command modules share: the common options, settings from flags, consoles,
exit codes and the one place errors become messages.

Only typer and ahora's light modules are imported here; rich's console is imported
when a command asks for one. Every ``Annotated`` alias below is an option that more
than one command takes, so it is spelled (and documented) once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ahora.errors import ConfigurationError, ModelAuthenticationError
from ahora.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "EXIT_CODES_HELP",
    "FAILED",
    "INTERRUPTED",
    "OK",
    "USAGE",
    "RunOptions",
    "handled_errors",
    "make_console",
]

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

EXIT_CODES_HELP = (
    "Exit codes: 0 ok · 1 the run failed · 2 usage or configuration error · 130 interrupted."
)

_RUN = "Run options"
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model as provider:name, e.g. openai:gpt-4.1-mini.",
        rich_help_panel=_RUN,
    ),
]
MaxStepsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-steps", min=1, help="Model calls per turn (default 12).", rich_help_panel=_RUN
    ),
]
ToolsOpt = Annotated[
    str | None,
    typer.Option(
        "--tools",
        help="Comma-separated tool names (see `ahora tools`); '' for none.",
        rich_help_panel=_RUN,
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Show each tool's output; progress on stderr when piped."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only the answer.")]
NoColorOpt = Annotated[
    bool, typer.Option("--no-color", help="No colours (the NO_COLOR variable does the same).")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show Python tracebacks on errors.")]


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The common options of commands that run a model (ask, chat)."""

    model: str | None = None
    max_steps: int | None = None
    tools: str | None = None
    verbose: bool = False
    quiet: bool = False
    no_color: bool = False
    debug: bool = False

    @property
    def tool_names(self) -> list[str] | None:
        """None: the default tools; [] for ``--tools ''``."""
        if self.tools is None:
            return None
        return [t.strip() for t in self.tools.split(",") if t.strip()]

    def settings(self) -> Settings:
        """Flags over environment over config file (``Settings.load`` does the rest)."""
        return Settings.load(model=self.model, max_steps=self.max_steps)


def make_console(*, stderr: bool = False, no_color: bool = False) -> Console:
    """A rich console on stdout or stderr; rich itself honours ``NO_COLOR``."""
    from rich.console import Console

    return Console(stderr=stderr, no_color=no_color or None, highlight=False)


def fail(message: str, code: int = USAGE) -> typer.Exit:
    """Print ``Error: message`` on stderr; raise the returned ``typer.Exit``."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def describe_error(exc: BaseException) -> tuple[str, int]:
    """A one-paragraph message and an exit code for an error that ended a command."""
    if isinstance(exc, ConfigurationError):
        return str(exc), USAGE
    if isinstance(exc, ModelAuthenticationError):
        return str(exc), FAILED
    name = type(exc).__name__
    if name.endswith("ConnectionError") or isinstance(exc, ConnectionError):
        return (
            f"cannot reach the model server ({exc}); is it running, and is the URL right?",
            FAILED,
        )
    if name.endswith("TimeoutError") or isinstance(exc, TimeoutError):
        return "the model server did not answer in time (AHORA_MODEL_TIMEOUT)", FAILED
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{name}: {text}" if text else name, FAILED


@contextmanager
def handled_errors(
    *, debug: bool = False, cleanup: Callable[[], Any] | None = None
) -> Iterator[None]:
    """Turn any error into one message on stderr and an exit code (traceback with --debug)."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        if cleanup:
            cleanup()
        typer.echo("Interrupted.", err=True)
        raise typer.Exit(INTERRUPTED) from None
    except Exception as exc:
        if cleanup:
            cleanup()
        if debug:
            raise
        message, code = describe_error(exc)
        if code == FAILED and not isinstance(exc, ModelAuthenticationError):
            message += "  (--debug shows the traceback)"
        typer.echo(f"Error: {message}", err=True)
        raise typer.Exit(code) from None


def read_question(question: str | None) -> str:
    """The question from the argument, or from stdin for ``-`` or no argument when piped."""
    if question == "-" or (question is None and not sys.stdin.isatty()):
        question = sys.stdin.read()
    question = (question or "").strip()
    if not question:
        raise fail("no question: pass it as an argument or on stdin (ahora ask -)")
    return question
