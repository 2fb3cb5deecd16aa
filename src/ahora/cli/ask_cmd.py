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
    INTERRUPTED,
    AgentOpt,
    DebugOpt,
    DocsOpt,
    FallbackOpt,
    MaxCostOpt,
    MaxStepsOpt,
    MaxTokensOpt,
    ModelOpt,
    NoColorOpt,
    QuietOpt,
    RunOptions,
    TimeoutOpt,
    ToolsDirOpt,
    ToolsOpt,
    VerboseOpt,
    YesOpt,
    handled_errors,
    make_console,
    plain_warnings,
    read_question,
)
from ahora.safe_text import json_text

if TYPE_CHECKING:
    from ahora.cli.render import Renderer

__all__ = ["app"]

app = typer.Typer()


@app.command(
    "ask",
    epilog=EXIT_CODES_HELP,
)
def ask(
    question: Annotated[list[str] | None, typer.Argument(show_default=False, hidden=True)] = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", "-t", help="Continue a saved thread (id or prefix, or 'last')."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (the answer and its sources).")
    ] = False,
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
) -> None:
    """Ask the agent one QUESTION (quotes optional; '-' or none: read it from stdin)."""
    opts = RunOptions(
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
    text = read_question(" ".join(question) if question else None)
    from ahora.cli.render import PlainRenderer, TerminalRenderer

    out = make_console(no_color=no_color)
    renderer: Renderer
    if as_json:
        renderer = PlainRenderer(None, sys.stderr, verbose=verbose, quiet=quiet)
    elif out.is_terminal:
        renderer = TerminalRenderer(out, verbose=verbose, quiet=quiet)
    else:
        renderer = PlainRenderer(sys.stdout, sys.stderr, verbose=verbose, quiet=quiet)
    # The early status line: typer has parsed the options (~30 ms with typer < 0.27),
    # and LangChain (~1.5 s) is not imported yet, so the user sees something at once.
    renderer.start()

    from ahora.cli.approvals import make_approver, question_console
    from ahora.cli.session import Session
    from ahora.events import Finished

    session: Session | None = None
    with handled_errors(debug=debug, cleanup=renderer.stop):
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
                renderer, yes=yes, ask_on=question_console(out), note=renderer.note
            )
            answer = None
            for event in session.ask(text, approve=approve):
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
            os._exit(INTERRUPTED)
        finally:
            renderer.stop()
            if session is not None:
                session.close()
    if as_json and answer is not None:
        sys.stdout.write(json_text(json.dumps(answer.to_dict(), ensure_ascii=False)) + "\n")
