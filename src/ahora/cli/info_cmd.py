"""``ahora tools`` and ``ahora models``: what the agent can use, without running it.

``ahora tools`` lists ``ahora.tools.registry.describe_tools``, which caches the
catalogue in the data dir (describing tools means importing them: LangChain, ~1 s);
``--refresh`` rebuilds it. Tool sources that failed to load are named on stderr.

``ahora models`` says which model would be used and why, asks each configured model
server (``OPENAI_BASE_URL``, ``OLLAMA_HOST``; short timeout) and says which answered,
and which providers are installed; it never imports LangChain.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ahora.cli.common import ModelOpt, NoColorOpt, ToolsDirOpt, fail, make_console
from ahora.cli.message import echo
from ahora.errors import ConfigurationError
from ahora.safe_text import json_text
from ahora.settings import Settings, config_path

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from ahora.models import ModelChoice, Probe

__all__ = ["app", "print_tools", "summary", "tool_infos"]

app = typer.Typer()


def tool_infos(settings: Settings, *, refresh: bool = False) -> list[dict[str, str]]:
    """``[{name, description, origin}]`` of every available tool (the registry caches it)."""
    from ahora.tools.registry import describe_tools

    return [
        {"name": t.name, "description": t.description, "origin": t.origin}
        for t in describe_tools(settings=settings, refresh=refresh)
    ]


def _problems(settings: Settings) -> list[str]:
    from ahora.tools.registry import tool_problems

    return tool_problems(settings=settings)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(**overrides)
    except ConfigurationError as exc:
        raise fail(str(exc)) from None


def summary(description: str) -> str:
    """The first sentence of a description's first paragraph, on one line.

    Docstrings are wrapped at the source's width: the first *line* may stop
    mid-sentence ("... Read a result in full"), the first sentence never does.
    """
    paragraph = " ".join(description.strip().split("\n\n", 1)[0].split())
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", paragraph, maxsplit=1)[0]


def print_tools(console: Console, infos: Sequence[Mapping[str, str]]) -> None:
    """Tools as a table: name, then the description's first sentence, with where it
    comes from (unless built in) after it.

    On a terminal descriptions wrap at word boundaries to its width; piped, each
    tool is one whole line without padding. Everything goes in as ``Text``: tool
    names and descriptions are not rich markup.
    """
    from rich.table import Table
    from rich.text import Text

    from ahora.cli.layout import print_unpadded

    table = Table(box=None, pad_edge=False, show_header=False, show_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for info in infos:
        cell = Text(summary(info["description"]))
        if info["origin"] != "builtin":
            cell.append(f" · {info['origin']}", style="dim")
        table.add_row(Text(info["name"]), cell)
    if console.is_terminal:
        console.print(table)
    else:
        print_unpadded(console, table)


@app.command("tools")
def tools(
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore the cached list.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per tool.")] = False,
    tools_dir: ToolsDirOpt = None,
    no_color: NoColorOpt = False,
) -> None:
    """List the tools agents can use, with one-line descriptions."""
    settings = _settings(tools_dir=str(tools_dir) if tools_dir is not None else None)
    infos = tool_infos(settings, refresh=refresh)
    if as_json:
        for info in infos:
            typer.echo(json_text(json.dumps(info, ensure_ascii=False)))
        return
    print_tools(make_console(no_color=no_color), infos)
    for problem in _problems(settings):
        echo(f"warning: {problem}")


def _model_reason(settings: Settings, flag: str | None, choice: ModelChoice) -> str:
    if flag:
        return "the --model option"
    if os.environ.get("AHORA_MODEL"):
        return "the AHORA_MODEL environment variable"
    if settings.model:
        return f"the config file ({config_path()})"
    if choice.probe is not None and not choice.probe.models:
        return f"{choice.reason}, but the server did not list its models: default name assumed"
    return f"auto-detected from {choice.reason}"


def _probes(settings: Settings, choice: ModelChoice | None) -> list[Probe]:
    """Ask every configured model server (short timeout), reusing auto-detection's answer."""
    from ahora.models import probe_ollama, probe_openai

    done = {choice.probe.url: choice.probe} if choice and choice.probe else {}
    found: list[Probe] = []
    if settings.openai_base_url:
        url = f"{settings.openai_base_url.rstrip('/')}/models"
        found.append(done.get(url) or probe_openai(settings))
    url = f"{settings.ollama_host.rstrip('/')}/api/tags"
    found.append(done.get(url) or probe_ollama(settings))
    return found


def _probe_line(probe: Probe) -> Text:
    from rich.text import Text

    if probe.error is not None:
        return Text("  ✗ ", style="red") + Text(probe.error)
    names = ", ".join(probe.models[:5]) + (", ..." if len(probe.models) > 5 else "")
    count = f"{len(probe.models)} model" + ("" if len(probe.models) == 1 else "s")
    return Text("  ✓ ", style="green") + Text(
        f"{probe.shown_url} answered: {count}" + (f" ({names})" if names else "")
    )


@app.command("models")
def models(model: ModelOpt = None, no_color: NoColorOpt = False) -> None:
    """Which model would be used and why; which providers are installed."""
    from rich.text import Text

    from ahora.models import _PROVIDER_PACKAGES, NO_MODEL_HELP, choose_model, installed_providers

    console = make_console(no_color=no_color)
    settings = _settings(model=model)
    providers = installed_providers()
    try:
        choice = choose_model(settings)
    except ConfigurationError:
        choice = None
    if choice is not None:
        console.print(Text.assemble(("Model:     ", "bold"), choice.spec))
        console.print(
            Text.assemble(("Why:       ", "bold"), _model_reason(settings, model, choice))
        )
        if choice.shown_base_url:
            console.print(Text.assemble(("Server:    ", "bold"), choice.shown_base_url))
    console.print(Text("Servers:", style="bold"))
    from ahora.cli.console import print_message

    for probe in _probes(settings, choice):
        print_message(console, _probe_line(probe))
    console.print(Text("Providers:", style="bold"))
    for name, ok in providers.items():
        extra = _PROVIDER_PACKAGES[name][1]
        hint = "" if ok or not extra else f"  (pip install 'ahora[{extra}]')"
        mark = Text("  ✓ " if ok else "  ✗ ", style="green" if ok else "red")
        console.print(mark + Text(f"{name}{'' if ok else ' not installed'}{hint}"))
    if choice is None:
        echo("")
        echo(NO_MODEL_HELP)
        raise typer.Exit(2)
