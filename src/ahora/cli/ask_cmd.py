"""``ahora ask QUESTION``: run the agent once and show the answer.

On a terminal: live status, the answer streamed then rendered as Markdown, sources,
footer. Piped: the answer alone on stdout. ``--json``: ``Answer.to_dict()`` on stdout.
The question may come from stdin (``ahora ask -``, or no argument with piped input).
Each ask is saved as a thread; ``--thread ID`` continues one. The agent is a profile
(``--agent``, default ``assistant``); ``--docs DIR`` adds ``search_docs`` over DIR;
tool calls that need approval are asked on the terminal (``--yes`` approves all).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ahora.cli.common import (
    EXIT_CODES_HELP,
    FAILED,
    INTERRUPTED,
    RunOptions,
    handled_errors,
    make_console,
    plain_warnings,
    read_question,
    run_options,
)
from ahora.safe_text import json_text

if TYPE_CHECKING:
    from ahora.answer import Answer
    from ahora.cli.render import Renderer

__all__ = ["app"]

app = typer.Typer()


@app.command(
    "ask",
    epilog=EXIT_CODES_HELP,
)
@run_options
def ask(
    question: Annotated[list[str] | None, typer.Argument(show_default=False, hidden=True)] = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", "-t", help="Continue a saved thread (id or prefix, or 'last')."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (the answer and its sources).")
    ] = False,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="Answer as JSON of this shape: 'name, age int, bio: a short bio', a .json "
            "schema file, or module:Class. The value goes to stdout, the sources to stderr.",
        ),
    ] = None,
    *,
    opts: RunOptions,
) -> None:
    """Ask the agent one QUESTION (quotes optional; '-' or none: read it from stdin)."""
    text = read_question(" ".join(question) if question else None)
    from ahora.cli.render import PlainRenderer, TerminalRenderer

    output = None
    if schema is not None:
        from pathlib import Path

        from ahora.schemas import load_schema

        with handled_errors(debug=opts.debug):
            output = load_schema(schema, base=Path.cwd())
    out = make_console(no_color=opts.no_color)
    renderer: Renderer
    if as_json or output is not None:  # stdout holds the JSON alone
        renderer = PlainRenderer(None, sys.stderr, verbose=opts.verbose, quiet=opts.quiet)
    elif out.is_terminal:
        renderer = TerminalRenderer(out, verbose=opts.verbose, quiet=opts.quiet)
    else:
        renderer = PlainRenderer(sys.stdout, sys.stderr, verbose=opts.verbose, quiet=opts.quiet)
    # The early status line: typer has parsed the options (~30 ms with typer < 0.27),
    # and LangChain (~1.5 s) is not imported yet, so the user sees something at once.
    renderer.start()

    from ahora.cli.approvals import make_approver, question_console
    from ahora.cli.session import Session
    from ahora.events import Finished

    session: Session | None = None
    with handled_errors(debug=opts.debug, cleanup=renderer.stop, explain=opts.explain):
        try:
            plain_warnings()
            settings = opts.settings()
            thread_id = None
            if thread:
                from ahora.threads import ThreadIndex

                with ThreadIndex.for_settings(settings) as index:
                    thread_id = index.resolve(thread).id
            session = opts.session(settings, thread_id=thread_id, note=renderer.note)
            session.open()
            approve = make_approver(
                renderer, yes=opts.yes, ask_on=question_console(out), note=renderer.note
            )
            answer = None
            for event in session.ask(text, approve=approve, output=output):
                renderer.handle(event)
                if isinstance(event, Finished):
                    answer = event.answer
        except KeyboardInterrupt:
            # The step in flight runs on in LangGraph's worker threads, and Python
            # would wait for it at exit; leave now. The thread keeps every finished
            # step, and the next turn on it seals the unfinished one.
            renderer.stop()
            typer.echo("Interrupted.", err=True)
            sys.stdout.flush()
            sys.stderr.flush()
            from ahora import tracing

            tracing.flush(1000)  # os._exit skips the exporter's own exit handler
            os._exit(INTERRUPTED)
        finally:
            renderer.stop()
            if session is not None:
                session.close()
    if as_json and answer is not None:
        sys.stdout.write(json_text(json.dumps(answer.to_dict(), ensure_ascii=False)) + "\n")
    elif output is not None and answer is not None:
        _typed(answer)
        if answer.output is None:
            raise typer.Exit(FAILED)
    from ahora.messages import NOTHING_GATHERED

    if answer is not None and answer.stopped_early and NOTHING_GATHERED in answer.text:
        raise typer.Exit(FAILED)  # the time ran out before anything was found: no answer


def _typed(answer: Answer) -> None:
    """``--schema``: the value as one JSON line on stdout; the sources on stderr (or why
    there is no value)."""
    from ahora.answer import jsonable
    from ahora.safe_text import clean

    if answer.output is not None:
        value = json.dumps(jsonable(answer.output), ensure_ascii=False)
        sys.stdout.write(json_text(value) + "\n")
    else:
        why = answer.output_error or answer.stop_reason or "the model gave no answer of that shape"
        typer.echo(clean(f"No answer of the requested shape: {why}", one_line=True), err=True)
    for n, source in enumerate(answer.sources, 1):
        typer.echo(
            clean(f"[{n}] {source.get('title') or ''} {source['url']}", one_line=True), err=True
        )
