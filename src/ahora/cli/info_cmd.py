"""``ahora tools`` and ``ahora models``: what the agent can use, without running it.

``ahora tools`` lists ``ahora.tools.registry.describe_tools``, which caches the
catalogue in the data dir (describing tools means importing them: LangChain, ~1 s);
``--refresh`` rebuilds it. Tool sources that failed to load are named on stderr.

``ahora models`` says which model would be used and why, and which providers are
installed; it never imports LangChain.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from ahora.cli.common import ModelOpt, NoColorOpt, fail, make_console
from ahora.errors import ConfigurationError
from ahora.safe_text import clean, json_text
from ahora.settings import Settings, config_path

__all__ = ["app", "tool_infos"]

app = typer.Typer()


def tool_infos(settings: Settings, *, refresh: bool = False) -> list[dict[str, str]]:
    """``[{name, description, origin}]`` of every available tool (the registry caches it)."""
    from ahora.tools.registry import describe_tools

    return [
        {"name": t.name, "description": t.description, "origin": t.origin}
        for t in describe_tools(settings, refresh=refresh)
    ]


def _problems(settings: Settings) -> list[str]:
    from ahora.tools import registry

    get = getattr(registry, "tool_problems", None)
    return list(get(settings)) if get is not None else []


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(**overrides)
    except ConfigurationError as exc:
        raise fail(str(exc)) from None


@app.command("tools")
def tools(
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore the cached list.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per tool.")] = False,
    no_color: NoColorOpt = False,
) -> None:
    """List the tools agents can use, with one-line descriptions."""
    from rich.table import Table
    from rich.text import Text

    settings = _settings()
    infos = tool_infos(settings, refresh=refresh)
    if as_json:
        for info in infos:
            typer.echo(json_text(json.dumps(info, ensure_ascii=False)))
        return
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_column(style="dim", no_wrap=True)
    for info in infos:
        first = info["description"].strip().split("\n", 1)[0]
        origin = "" if info["origin"] == "builtin" else info["origin"]
        table.add_row(Text(info["name"]), Text(first), Text(origin))  # Text: not markup
    make_console(no_color=no_color).print(table)
    for problem in _problems(settings):
        typer.echo(clean(f"warning: {problem}"), err=True)


def _model_reason(settings: Settings, flag: str | None, reason: str) -> str:
    if flag:
        return "the --model option"
    if os.environ.get("AHORA_MODEL"):
        return "the AHORA_MODEL environment variable"
    if settings.model:
        return f"the config file ({config_path()})"
    return f"auto-detected from {reason}"


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
            Text.assemble(("Why:       ", "bold"), _model_reason(settings, model, choice.reason))
        )
        if choice.base_url:
            console.print(Text.assemble(("Server:    ", "bold"), choice.base_url))
    console.print(Text("Providers:", style="bold"))
    for name, ok in providers.items():
        extra = _PROVIDER_PACKAGES[name][1]
        hint = "" if ok or not extra else f"  (pip install 'ahora[{extra}]')"
        mark = Text("  ✓ " if ok else "  ✗ ", style="green" if ok else "red")
        console.print(mark + Text(f"{name}{'' if ok else ' not installed'}{hint}"))
    if choice is None:
        typer.echo("", err=True)
        typer.echo(NO_MODEL_HELP, err=True)
        raise typer.Exit(2)
