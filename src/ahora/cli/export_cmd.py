"""``ahora threads export``: saved conversations as fine-tuning data.

A single typer command function, mounted by the threads group in one line::

    threads_app.command("export")(export_cmd.export)

It reads the saved threads (``ahora.threads.open_checkpointer``: SQLite, or PostgreSQL
when configured) and writes OpenAI chat fine-tuning JSONL (``ahora.export``). The
system message is ahora's system prompt with the profile's instructions, dated with
each thread's last activity; the ``tools`` list is what the model was offered in that
thread (the profile's tools only for threads saved before ahora recorded that). It
reports how many conversations it wrote and, for each one skipped, why. Errors print
one line on stderr (``common.handled_errors``). ``--output`` is written to a new
temporary file in the same folder (created exclusively: a link planted there is never
followed) renamed into place at the end, so a failed export leaves no file behind.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from ahora.cli.common import DEFAULT_PROFILE, DebugOpt, fail, handled_errors
from ahora.cli.message import echo

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from ahora.settings import Settings

__all__ = ["ExportFormat", "export"]


class ExportFormat(StrEnum):
    openai_jsonl = "openai-jsonl"


def export(
    ids: Annotated[
        list[str] | None,
        typer.Argument(help="Thread ids (a unique prefix or `last` works); all when none."),
    ] = None,
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExportFormat.openai_jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Profile whose instructions and tools to use.")
    ] = DEFAULT_PROFILE,
    system_prompt: Annotated[
        bool,
        typer.Option("--system-prompt/--no-system-prompt", help="Include the system message."),
    ] = True,
    subagents: Annotated[
        bool,
        typer.Option(
            "--subagents",
            help="Also write each conversation another agent had when called as a tool, "
            "as its own example (with that agent's profile).",
        ),
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Export conversations, tool calls included, as fine-tuning JSONL (one per line)."""
    from ahora.export import export_threads, known_secrets, list_thread_ids, sub_runs
    from ahora.profiles import load_profile
    from ahora.prompt import build_system_prompt, user_timezone
    from ahora.settings import get_settings
    from ahora.threads import ThreadIndex, close_checkpointer, open_checkpointer

    with handled_errors(debug=debug):
        settings = get_settings()
        p = load_profile(profile, settings=settings)
        refs = list(ids or [])
        with ThreadIndex.for_settings(settings) as index:
            wanted = [_resolve(index, ref) for ref in refs]
        if not refs and not settings.postgres_url and not settings.threads_db.exists():
            echo("No saved threads yet.")
            return
        tools = _profile_tools(p.tools, settings)
        instructions = p.system_instructions()
        zone = user_timezone(settings.timezone)

        def prompt(when: datetime) -> str:
            return build_system_prompt(instructions, when.astimezone(zone))

        skipped: list[str] = []

        def skip(thread: str, why: str) -> None:
            skipped.append(thread)
            echo(f"Skipped {thread}: {why}")

        saver = open_checkpointer(settings)
        try:
            if not refs:
                # All: every conversation in the store, the ones apps ran on it with a
                # graph of their own too, but not a sub-agent's run, which is part of its
                # caller's. An undone first turn leaves none behind (the session drops
                # its checkpoint with its row), so none is named only to be skipped.
                every = list_thread_ids(saver)
                inside = {sub for sub, _ in sub_runs(saver, every)}
                wanted = [t for t in every if t not in inside]
            with _open_output(output) as out:
                # An empty list means "all" to export_threads: here it means none.
                count = (
                    0
                    if not wanted
                    else export_threads(
                        saver,
                        wanted,
                        out,
                        secrets=known_secrets(settings=settings),
                        tools=tools,
                        system_prompt=prompt if system_prompt else None,
                        on_skip=skip,
                    )
                )
                if subagents and wanted:
                    count += _export_sub_runs(
                        saver, sub_runs(saver, wanted), out, settings, system_prompt, skip
                    )
        except LookupError as exc:
            raise fail(str(exc).strip("'\"")) from None
        finally:
            close_checkpointer(saver)
    where = f" to {output}" if output is not None else ""
    left = f"; skipped {len(skipped)} (reasons above)" if skipped else ""
    echo(f"Exported {count} conversation(s){where} ({format.value}){left}.")


def _export_sub_runs(
    saver: Any,
    runs: list[tuple[str, str]],
    out: TextIO,
    settings: Any,
    with_prompt: bool,
    skip: Any,
) -> int:
    """Each sub-agent's conversation as its own example, with its profile's system
    prompt (none for an agent that is not a profile, say one made in Python)."""
    from ahora.errors import InvalidProfile
    from ahora.export import export_threads, known_secrets
    from ahora.profiles import load_profile
    from ahora.prompt import build_system_prompt, user_timezone

    zone = user_timezone(settings.timezone)
    written = 0
    for agent in dict.fromkeys(name for _, name in runs):
        instructions: str | None = None
        if agent:  # "" is an agent made in Python: its instructions are not known here
            try:
                instructions = load_profile(agent, settings=settings).system_instructions()
            except InvalidProfile:  # the profile is gone or broken since
                instructions = None

        def prompt(when: datetime, text: str | None = instructions) -> str:
            return build_system_prompt(text or "", when.astimezone(zone))

        written += export_threads(
            saver,
            [sub for sub, name in runs if name == agent],
            out,
            secrets=known_secrets(settings=settings),
            system_prompt=prompt if with_prompt and instructions is not None else None,
            on_skip=skip,
        )
    return written


@contextmanager
def _open_output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a new file beside ``path`` renamed to it once the export succeeds.

    The temporary file is created exclusively (``mkstemp``: ``O_CREAT | O_EXCL``) under
    a random name, so nothing planted beside ``path`` (a link to another file) is ever
    written through; the rename replaces ``path`` itself, even when it is a link.
    """
    if path is None:
        yield sys.stdout
        return
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yield out
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _resolve(index: Any, ref: str) -> str:
    """A full id from an id, a unique prefix or ``last`` (ahora's thread index); an id
    the index does not know passes through, for threads saved by library code."""
    if ref == "last" or any(t.id.startswith(ref) for t in index.list()):
        return str(index.resolve(ref).id)
    return ref


def _profile_tools(names: list[str] | None, settings: Settings) -> list[BaseTool]:
    """The profile's tools as its agent has them: no list, or ``*`` in it, means every
    available tool (built-ins, plugins, local tools, MCP servers, search_docs), as
    ``Agent`` does."""
    from ahora.profiles import EVERY_TOOL
    from ahora.tools.registry import available_tools

    by_name = available_tools(settings=settings)
    if names is None:
        return list(by_name.values())
    if EVERY_TOOL in names:
        names = [*(n for n in by_name if n not in names), *names]
    return [by_name[n] for n in names if n in by_name]
