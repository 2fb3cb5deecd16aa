"""What the command modules share: the common options, settings from flags, consoles,
exit codes and the one place errors become messages.

Only typer and ahora's light modules are imported here; rich's console is imported
when a command asks for one. Every ``Annotated`` alias below is an option that more
than one command takes, so it is spelled (and documented) once.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from ahora.errors import ConfigurationError, RunError
from ahora.profiles import DEFAULT_PROFILE
from ahora.recipe import Choices
from ahora.safe_text import clean
from ahora.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from ahora.cli.session import Session

__all__ = [
    "DEFAULT_PROFILE",
    "EXIT_CODES_HELP",
    "FAILED",
    "INTERRUPTED",
    "OK",
    "USAGE",
    "RunOptions",
    "WholeCommandList",
    "handled_errors",
    "make_console",
    "plain_warnings",
    "run_options",
]


OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

EXIT_CODES_HELP = (
    "Exit codes: 0 ok · 1 the run failed · 2 usage or configuration error · 130 interrupted."
)

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model as provider:name, e.g. openai:gpt-4.1-mini.",
    ),
]
MaxStepsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-steps",
        min=1,
        help="Model calls per turn (default: the agent's, else 12).",
    ),
]
ToolsOpt = Annotated[
    str | None,
    typer.Option(
        "--tools",
        help=(
            "Comma-separated tool names (see `ahora tools`), agent:NAME for another "
            "agent, '*' for the default tools; '' for none."
        ),
    ),
]
AgentOpt = Annotated[
    str | None,
    typer.Option(
        "--agent",
        "-a",
        metavar="NAME|PATH",
        help=f"Agent profile (see `ahora agents`) or a .toml file; default {DEFAULT_PROFILE}.",
    ),
]
DocsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--docs",
        metavar="DIR",
        help="Index DIR for this run only and let the agent search it; repeatable.",
    ),
]
MaxTokensOpt = Annotated[
    int | None,
    typer.Option(
        "--max-tokens",
        min=1,
        help="Token budget per answer, then it wraps up.",
    ),
]
MaxCostOpt = Annotated[
    float | None,
    typer.Option(
        "--max-cost",
        min=0.000001,
        help="Dollar budget per answer (models with known prices), then it wraps up.",
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Time budget per answer, then it wraps up with what it has.",
    ),
]
FallbackOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--fallback",
        metavar="PROVIDER:NAME",
        help="Model to try when the model fails (not on bad keys); repeatable, in order.",
    ),
]
ToolsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--tools-dir",
        metavar="DIR",
        exists=True,
        file_okay=False,
        help="Load local tools from the *.py files in DIR (default ./tools).",
    ),
]
YesOpt = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Approve every tool call that needs approval."),
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


class WholeCommandList(TyperGroup):
    """A command group whose help lists each command's summary whole, wrapped under
    its column (click cuts it with "..." to fit one line)."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [
            (name, cmd.get_short_help_str(limit=10_000))
            for name in self.list_commands(ctx)
            if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The common options of commands that run a model (ask, chat)."""

    model: str | None = None
    agent: str | None = None
    max_steps: int | None = None
    max_tokens: int | None = None
    max_cost: float | None = None
    timeout: float | None = None
    fallbacks: list[str] = field(default_factory=list)
    tools: str | None = None
    tools_dir: Path | None = None
    docs: list[Path] = field(default_factory=list)
    yes: bool = False
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

    @property
    def profile(self) -> str:
        return self.agent or DEFAULT_PROFILE

    def settings(self) -> Settings:
        """Environment over config file over defaults, and the ``--tools-dir`` flag.

        The flags that shape the agent (model, budgets, fallbacks, tools) are not
        settings: they are the top layer of the recipe (``choices``), above the
        profile, so one precedence holds for all of them (``ahora.recipe``).
        """
        return Settings.load(tools_dir=str(self.tools_dir) if self.tools_dir is not None else None)

    def choices(self) -> Choices:
        """The flags that choose the agent's recipe; None where no flag was given."""
        return Choices(
            profile=self.profile,
            model=self.model,
            tools=self.tool_names,
            max_steps=self.max_steps,
            max_tokens=self.max_tokens,
            max_cost=self.max_cost,
            timeout=self.timeout,
            fallbacks=tuple(self.fallbacks) or None,
        )

    def explain(self, exc: BaseException) -> str:
        """More about an error that ended a run: for an unknown tool, why the tool
        sources failed to load (``ahora tools`` said it; ``ask`` said only "unknown")."""
        if not isinstance(exc, ConfigurationError) or "unknown tool" not in str(exc):
            return ""
        try:
            from ahora.tools.registry import tool_problems

            problems = tool_problems(settings=self.settings())
        except Exception:  # explaining must never hide the error itself
            return ""
        return "".join(f"\n  {p}" for p in problems)

    def session(
        self,
        settings: Settings,
        *,
        thread_id: str | None = None,
        note: Callable[[str], None] = print,
    ) -> Session:
        """The session these options describe; indexes the ``--docs`` folders first
        (a one-line summary each goes to ``note`` with ``--verbose``)."""
        from ahora.cli.session import Session, docs_tool

        extra = []
        if self.docs:
            tool, summaries = docs_tool(self.docs)
            extra.append(tool)
            for s in summaries if self.verbose else ():
                files = s.added + s.updated + s.unchanged
                note(
                    f"Indexed {s.folder}: {files} files ({s.added} new, {s.updated} updated, "
                    f"{s.removed} removed, {s.skipped} skipped) in {s.seconds:.2f} s"
                )
        return Session(settings, self.choices(), extra_tools=extra, thread_id=thread_id)


def _run_options(
    *,
    agent: AgentOpt = None,
    model: ModelOpt = None,
    docs: DocsOpt = None,
    max_steps: MaxStepsOpt = None,
    max_tokens: MaxTokensOpt = None,
    max_cost: MaxCostOpt = None,
    timeout: TimeoutOpt = None,
    fallback: FallbackOpt = None,
    tools: ToolsOpt = None,
    tools_dir: ToolsDirOpt = None,
    yes: YesOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> RunOptions:
    """The options ``ask`` and ``chat`` share, declared once: this signature is what
    ``run_options`` adds to a command, and its body the one place they become a value."""
    return RunOptions(
        model=model,
        agent=agent,
        max_steps=max_steps,
        max_tokens=max_tokens,
        max_cost=max_cost,
        timeout=timeout,
        fallbacks=list(fallback or []),
        tools=tools,
        tools_dir=tools_dir,
        docs=list(docs or []),
        yes=yes,
        verbose=verbose,
        quiet=quiet,
        no_color=no_color,
        debug=debug,
    )


def run_options(command: Callable[..., None]) -> Callable[..., None]:
    """A command that takes ``opts: RunOptions`` gets the shared run options as flags.

    Like llm's shared-options decorator: typer reads the returned function's
    signature (the command's own parameters, then ``_run_options``'), and the
    shared flags reach the command as one ``RunOptions``. Adding a run option is one
    parameter of ``_run_options`` and one field of ``RunOptions``.
    """
    own = inspect.signature(command, eval_str=True)
    shared = inspect.signature(_run_options, eval_str=True)
    shared_names = set(shared.parameters)
    params = [p for p in own.parameters.values() if p.name != "opts"]
    params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in shared.parameters.values()]

    @functools.wraps(command)
    def with_options(**kwargs: Any) -> None:
        chosen = {name: kwargs.pop(name) for name in shared_names if name in kwargs}
        command(opts=_run_options(**chosen), **kwargs)

    del with_options.__wrapped__  # typer must see the signature below, not the command's
    with_options.__signature__ = own.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
    )
    with_options.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    return with_options


def plain_warnings() -> None:
    """Show warnings (a local tool file that fails to load ...) as one message each,
    wrapped like every other message (``ahora.cli.message``)."""

    from ahora.cli.message import logical_lines, terminal_width, wrap

    def one_line(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> str:
        text = clean(f"Warning: {message}")
        width = terminal_width(sys.stderr)
        return (wrap(text, width) if width else "\n".join(logical_lines(text))) + "\n"

    warnings.formatwarning = one_line


def make_console(*, stderr: bool = False, no_color: bool = False) -> Console:
    """A rich console on stdout or stderr; rich itself honours ``NO_COLOR``.
    It shows control characters in outside text visibly (``ahora.cli.console``)."""
    from ahora.cli.console import SafeConsole

    return SafeConsole(stderr=stderr, no_color=no_color or None, highlight=False)


def fail(message: str, code: int = USAGE) -> typer.Exit:
    """Print ``Error: message`` on stderr; raise the returned ``typer.Exit``."""
    from ahora.cli.message import echo

    echo(f"Error: {message}")
    return typer.Exit(code)


def describe_error(exc: BaseException) -> tuple[str, int]:
    """A one-paragraph message and an exit code for an error that ended a command."""
    if isinstance(exc, ConfigurationError):
        return str(exc), USAGE
    if isinstance(exc, RunError):
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
    *,
    debug: bool = False,
    cleanup: Callable[[], Any] | None = None,
    explain: Callable[[BaseException], str] | None = None,
) -> Iterator[None]:
    """Turn any error into one message on stderr and an exit code (traceback with --debug);
    ``explain`` may add lines to it (``RunOptions.explain``)."""
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
        if code == FAILED and not isinstance(exc, RunError):
            message += "  (--debug shows the traceback)"
        if explain is not None:
            message += explain(exc)
        from ahora.cli.message import echo

        echo(f"Error: {message}")
        raise typer.Exit(code) from None


def read_question(question: str | None) -> str:
    """The question from the argument, or from stdin for ``-`` or no argument when piped."""
    if question == "-" or (question is None and not sys.stdin.isatty()):
        if sys.stdin.isatty():  # `ahora ask -` typed at a terminal: say what it waits for
            from ahora.cli.message import echo

            echo("Type the question, then Ctrl-D on an empty line:")
        question = sys.stdin.read()
    question = (question or "").strip()
    if not question:
        raise fail("no question: pass it as an argument or on stdin (ahora ask -)")
    return question
