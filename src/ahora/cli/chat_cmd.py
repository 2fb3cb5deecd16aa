"""``ahora chat``: a conversation in the terminal, saved as a thread.

A prompt_toolkit prompt (history in the data dir, line editing, multi-line paste;
Esc then Enter inserts a newline). Each turn renders like ``ahora ask``. Ctrl-C
during a turn cancels that turn (the conversation stays as it was); Ctrl-C at the
prompt clears the line; Ctrl-D or ``/exit`` leaves. With piped stdin, each line is
a turn and answers are printed plainly. ``/agent NAME`` switches profile on the same
thread; an answer that stopped at a budget says so, and ``/continue`` goes on.
Tool calls that need approval are asked y/n (piped: rejected unless ``--yes``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar, TextIO

import typer

from ahora.cli.common import (
    EXIT_CODES_HELP,
    RunOptions,
    describe_error,
    handled_errors,
    make_console,
    plain_warnings,
    run_options,
)
from ahora.safe_text import clean

if TYPE_CHECKING:
    from rich.console import Console

    from ahora.cli.render import Renderer
    from ahora.cli.session import Session

__all__ = ["app"]

app = typer.Typer()

HELP = """\
/help           this list
/new            start a new thread
/threads        recent threads
/resume ID      continue a thread (id, prefix or 'last')
/agent [NAME]   show the agent, or switch profile (name or .toml), keeping the thread
/tools          the tools the agent can use
/model NAME     switch model (provider:name, or a name of the same provider)
/continue       go on after an answer that stopped at a budget
/usage          tokens used in this session
/exit           leave (Ctrl-D does the same)
Ctrl-C cancels the turn in flight; Esc then Enter adds a newline."""

CONTINUE = "Continue where you stopped; you have a fresh budget."
"""What ``/continue`` sends: a new user message, so the budgets start again."""
STOPPED_HINT = "/continue to keep going."


@dataclass
class Chat:
    """The REPL's state and its slash commands, apart from how lines are read."""

    session: Session
    console: Console
    opts: RunOptions
    terminal: bool
    out: TextIO

    def renderer(self) -> Renderer:
        from ahora.cli.render import PlainRenderer, TerminalRenderer

        o = self.opts
        if self.terminal:
            return TerminalRenderer(
                self.console, verbose=o.verbose, quiet=o.quiet, stopped_hint=STOPPED_HINT
            )
        return PlainRenderer(
            self.out, sys.stderr, verbose=o.verbose, quiet=o.quiet, stopped_hint=STOPPED_HINT
        )

    def say(self, text: str, style: str | None = "dim") -> None:
        """A message of the chat's own, wrapped like every message (``cli.message``)."""
        if self.terminal:
            from ahora.cli.console import print_message

            print_message(self.console, text, style=style)
        else:
            from ahora.cli.message import echo

            echo(text)

    def turn(self, question: str) -> None:
        """One question; Ctrl-C cancels it, errors are reported and the chat goes on."""
        if self.session.busy:
            try:
                if self.terminal:
                    with self.console.status("Stopping the cancelled turn ...", spinner="dots"):
                        self.session.wait()
                else:
                    self.session.wait()
            except KeyboardInterrupt:  # a second Ctrl-C drops this question, not the chat
                self.say("Not asked: the cancelled turn is still stopping.", "yellow")
                return
        from ahora.cli.approvals import make_approver, question_console

        renderer = self.renderer()
        ask_on = question_console(self.console) if self.terminal else None
        approve = make_approver(renderer, yes=self.opts.yes, ask_on=ask_on, note=renderer.note)
        renderer.start()
        try:
            for event in self.session.ask(question, approve=approve):
                renderer.handle(event)
        except KeyboardInterrupt:
            renderer.stop()
            self.session.cancel()
            self.say("Cancelled; the conversation is as it was before that question.", "yellow")
        except Exception as exc:
            renderer.stop()
            if self.opts.debug:
                raise
            message, _ = describe_error(exc)
            self.say(f"Error: {message}", "red")
        finally:
            renderer.stop()

    def command(self, line: str) -> bool:
        """Run a slash command; False means leave."""
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        handler = self.COMMANDS.get(name.lower())
        if handler is None:
            self.say(f"Unknown command /{name}; /help lists them.", "yellow")
            return True
        return handler(self, arg)

    def _help(self, arg: str) -> bool:
        self.say(HELP, None)
        return True

    def _exit(self, arg: str) -> bool:
        return False

    def _new(self, arg: str) -> bool:
        self.session.new_thread()
        self.say(f"New thread {self.session.thread_id[:8]}.")
        return True

    def _threads(self, arg: str) -> bool:
        from ahora.cli.threads_cmd import print_threads

        print_threads(
            self.console, self.session.index.list(limit=15), current=self.session.thread_id
        )
        return True

    def _resume(self, arg: str) -> bool:
        info = self.session.index.resolve(arg or "last")
        self.session.switch(info.id)
        from ahora.cli.layout import plural

        self.say(f"Resumed {info.id[:8]}: {info.title} ({plural(info.turns, 'turn')}).")
        return True

    def _tools(self, arg: str) -> bool:
        from ahora.cli.info_cmd import print_tools

        infos = [
            {"name": t.name, "description": t.description or "", "origin": "builtin"}
            for t in self.session.agent.tools
        ]
        if self.terminal:
            print_tools(self.console, infos)
        else:
            print_tools(make_console(stderr=True, no_color=True), infos)
        return True

    def _model(self, arg: str) -> bool:
        if not arg:
            self.say(f"Model: {self.session.agent.model_name}", None)
            return True
        name = self.session.set_model(arg)
        self.say(f"Model: {name}")
        return True

    def _agent(self, arg: str) -> bool:
        if arg:
            p = self.session.use_profile(arg)
            self.say(f"Agent: {p.name} ({p.description})")
            return True
        current = self.session.profile_info
        if current is not None:
            self.say(f"Agent: {current.name} ({current.description}) · {current.path}", None)
        return True

    def _continue(self, arg: str) -> bool:
        self.turn(CONTINUE)
        return True

    def _usage(self, arg: str) -> bool:
        from ahora.cli.layout import plural

        u = self.session.usage
        self.say(
            f"{plural(self.session.turns, 'turn')} · {u['input_tokens']:,} input + "
            f"{plural(u['output_tokens'], 'output token')}",
            None,
        )
        return True

    COMMANDS: ClassVar[dict[str, Callable[[Chat, str], bool]]] = {
        "help": _help,
        "?": _help,
        "new": _new,
        "threads": _threads,
        "resume": _resume,
        "agent": _agent,
        "tools": _tools,
        "model": _model,
        "continue": _continue,
        "usage": _usage,
        "exit": _exit,
        "quit": _exit,
    }

    def line(self, text: str) -> bool:
        """Handle one input line; False means leave."""
        text = text.strip()
        if not text:
            return True
        first = text.split(maxsplit=1)[0]
        if first.startswith("/") and "/" not in first[1:]:  # "/etc/hosts ..." is a question
            try:
                return self.command(text)
            except Exception as exc:
                if self.opts.debug:
                    raise
                self.say(f"Error: {describe_error(exc)[0]}", "red")
                return True
        self.turn(text)
        return True


def _prompt_loop(chat: Chat) -> None:
    """Read lines with prompt_toolkit until Ctrl-D or /exit."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings

    from ahora.settings import private_file

    history = private_file(chat.session.settings.home / "chat_history")  # 0600
    keys = KeyBindings()

    @keys.add("escape", "enter")
    def _newline(event: object) -> None:
        event.current_buffer.insert_text("\n")  # type: ignore[attr-defined]

    prompt: PromptSession[str] = PromptSession(
        history=FileHistory(str(history)), key_bindings=keys, multiline=False
    )
    while True:
        try:
            text = prompt.prompt("› ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        if not chat.line(text):
            return


def _resume_hint(chat: Chat) -> None:
    """On leaving, how to come back to this conversation (it is saved)."""
    if chat.opts.quiet or chat.session.index.get(chat.session.thread_id) is None:
        return
    chat.say(f"Saved. Resume with: ahora chat --resume {chat.session.thread_id[:8]}")


@app.command("chat", epilog=EXIT_CODES_HELP)
@run_options
def chat(
    resume: Annotated[
        str | None,
        typer.Option("--resume", "-r", help="Continue a saved thread: id, prefix or 'last'."),
    ] = None,
    *,
    opts: RunOptions,
) -> None:
    """Chat with the agent; the conversation is saved (see `ahora threads`)."""
    console = make_console(no_color=opts.no_color)
    interactive = sys.stdin.isatty() and console.is_terminal
    session: Session | None = None
    with handled_errors(debug=opts.debug, explain=opts.explain):
        try:
            plain_warnings()
            settings = opts.settings()
            session = opts.session(settings, note=lambda line: typer.echo(clean(line), err=True))
            if resume:
                info = session.index.resolve(resume)
                session.switch(info.id)
            if console.is_terminal:
                with console.status("Loading ...", spinner="dots"):
                    session.open()
            else:
                session.open()
            state = Chat(session, console, opts, console.is_terminal, sys.stdout)
            if console.is_terminal and not opts.quiet:
                what = f"Resumed thread {session.thread_id[:8]}" if resume else "New thread"
                model_name = session.agent.model_name
                state.say(
                    f"{what} · agent {session.profile_info.name if session.profile_info else '?'}"
                    f" · model {model_name} · /help for commands, Ctrl-D to leave"
                )
            if interactive:
                _prompt_loop(state)
                _resume_hint(state)
            else:
                for line in sys.stdin:
                    if not state.line(line):
                        break
            if session.busy:
                # Leaving: do not wait for the reply to a cancelled question.
                sys.stdout.flush()
                from ahora import tracing

                tracing.flush(1000)  # os._exit skips the exporter's own exit handler
                os._exit(0)
        finally:
            if session is not None:
                session.close()
