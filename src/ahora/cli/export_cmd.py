"""``ahora threads export``: saved conversations as fine-tuning data.

A single typer command function, mounted by the threads group in one line::

    threads_app.command("export")(export_cmd.export)

It reads the saved threads (``ahora.threads.open_checkpointer``: SQLite, or PostgreSQL
when configured) and writes OpenAI chat fine-tuning JSONL (``ahora.export``). The
system message is ahora's system prompt with the profile's instructions, dated with
each thread's last activity; the ``tools`` list is the profile's tools. Errors print
one line on stderr and exit with code 2.
"""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["ExportFormat", "export"]


class ExportFormat(StrEnum):
    openai_jsonl = "openai-jsonl"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(2)


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
    ] = "assistant",
    system_prompt: Annotated[
        bool,
        typer.Option("--system-prompt/--no-system-prompt", help="Include the system message."),
    ] = True,
) -> None:
    """Export conversations, tool calls included, as fine-tuning JSONL (one per line)."""
    from ahora.errors import ConfigurationError
    from ahora.export import export_threads
    from ahora.profiles import load_profile
    from ahora.prompt import build_system_prompt, user_timezone
    from ahora.settings import get_settings
    from ahora.threads import ThreadIndex, close_checkpointer, open_checkpointer

    try:
        settings = get_settings()
        p = load_profile(profile, settings=settings)
        refs = list(ids or [])
        with ThreadIndex.for_settings(settings) as index:
            wanted = [_resolve(index, ref) for ref in refs]
        if not settings.postgres_url and not settings.threads_db.exists():
            typer.echo("No saved threads yet.", err=True)
            return
        tools = _profile_tools(p.tools)
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None

    instructions = p.system_instructions()
    zone = user_timezone(settings.timezone)

    def prompt(when: datetime) -> str:
        return build_system_prompt(instructions, when.astimezone(zone))

    saver = open_checkpointer(settings)
    out: Any = sys.stdout if output is None else output.open("w", encoding="utf-8")
    try:
        count = export_threads(
            saver,
            wanted,
            out,
            tools=tools,
            system_prompt=prompt if system_prompt else None,
            on_skip=lambda thread, why: typer.echo(f"Skipped {thread}: {why}", err=True),
        )
    except LookupError as exc:
        raise _fail(str(exc).strip("'\"")) from None
    finally:
        if output is not None:
            out.close()
        close_checkpointer(saver)
    where = f" to {output}" if output is not None else ""
    typer.echo(f"Exported {count} conversation(s){where} ({format.value}).", err=True)


def _resolve(index: Any, ref: str) -> str:
    """A full id from an id, a unique prefix or ``last`` (ahora's thread index); an id
    the index does not know passes through, for threads saved by library code."""
    if ref == "last" or any(t.id.startswith(ref) for t in index.list()):
        return str(index.resolve(ref).id)
    return ref


def _profile_tools(names: list[str] | None) -> list[BaseTool]:
    from ahora.tools import default_tools

    if names is None:
        return default_tools()
    from ahora.tools.registry import available_tools

    by_name = available_tools()
    return [by_name[n] for n in names if n in by_name]
