"""``ahora config path|show``: where the TOML config file lives, and the settings in effect.

The file's keys are ``Settings`` field names (flat, or under an ``[ahora]`` table):

    model = "openai:gpt-4.1-mini"
    units = "imperial"
    search_backend = "searxng"
    searxng_url = "http://localhost:8888"

Precedence: command-line flags > the chosen agent profile > environment (``AHORA_*``,
``OPENAI_API_KEY`` ...) > this file > defaults. ``show`` prints every setting with
where its value came from, secrets masked, in a form that can be pasted back into the
file; ``show --agent NAME`` adds that agent's recipe (model, tools, budgets), each
part with the layer that set it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from typing import Annotated, Any

import typer

from ahora.cli.common import WholeCommandList, fail
from ahora.errors import ConfigurationError
from ahora.masking import mask
from ahora.recipe import Choices, Recipe, resolve_recipe
from ahora.settings import _NOT_SETTINGS, Settings, _read_config, _read_env, config_path

__all__ = ["app", "mask"]

app = typer.Typer(
    cls=WholeCommandList,
    name="config",
    help="The config file: where it is, what is in effect.",
    no_args_is_help=True,
)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return json.dumps(str(value), ensure_ascii=False)


@app.command("path")
def path() -> None:
    """Print where the config file is (it may not exist yet)."""
    typer.echo(str(config_path()))


AgentOpt = Annotated[
    str | None,
    typer.Option(
        "--agent",
        "-a",
        metavar="NAME|PATH",
        help="Also show that agent's recipe: model, tools, budgets, and which layer set each.",
    ),
]


@app.command("show")
def show(agent: AgentOpt = None) -> None:
    """Print the settings in effect and where each comes from (secrets masked)."""
    import os

    file = config_path()
    try:
        settings = Settings.load()
        from_file = _read_config(file)
    except ConfigurationError as exc:
        raise fail(str(exc)) from None
    from_env = _read_env(os.environ)

    def origin(name: str) -> str:
        if name in from_env:
            return "environment"
        if name in from_file:
            return "config file"
        if name == "home" and os.environ.get("AHORA_HOME"):
            return "AHORA_HOME"
        return "default"

    lines = [f"# config file: {file}" + ("" if file.exists() else " (not created yet)")]
    rows = [
        _row(f.name, getattr(settings, f.name), origin(f.name))
        for f in fields(Settings)
        if f.name not in _NOT_SETTINGS  # the header says which file
    ]
    if agent is not None:
        try:
            recipe = resolve_recipe(Choices(profile=agent), settings)
        except ConfigurationError as exc:
            raise fail(str(exc)) from None
        rows += _recipe_rows(recipe, origin)
    width = min(max(len(a) for a, _ in rows if not a.startswith("\n")) + 2, 70)
    lines += [a if a.startswith("\n") else f"{a:<{width - 2}}  {b}" for a, b in rows]
    typer.echo("\n".join(lines))


def _row(name: str, value: Any, origin: str) -> tuple[str, str]:
    shown = mask(name, value)
    if shown is None:
        return f"# {name} =", f"# not set ({origin})"
    return f"{name} = {_toml_value(shown)}", f"# {origin}"


# Recipe part -> the setting that holds its lower layers.
_SETTING_OF = {
    "model": "model",
    "budget.steps": "max_steps",
    "budget.tokens": "max_tokens",
    "budget.cost": "max_cost",
    "budget.seconds": "timeout",
    "fallbacks": "fallback_models",
}


def _recipe_rows(recipe: Recipe, origin: Callable[[str], str]) -> list[tuple[str, str]]:
    """The agent's recipe, each part with the layer it came from (``ahora.recipe``)."""
    profile = recipe.profile
    where = f"profile {profile.name}" if profile is not None else "profile"
    head = f"\n# agent {profile.name} ({profile.path})" if profile is not None else "\n# agent"
    rows: list[tuple[str, str]] = [(head, "")]
    b = recipe.budget
    parts: list[tuple[str, str, Any]] = [
        ("model", "model", recipe.model),
        ("tools", "tools", None if recipe.tools is None else [_name(t) for t in recipe.tools]),
        ("approvals", "approvals", list(recipe.approvals)),
        ("max_steps", "budget.steps", b.steps),
        ("max_tokens", "budget.tokens", b.tokens),
        ("max_cost", "budget.cost", b.cost),
        ("timeout", "budget.seconds", b.seconds),
        ("fallback_models", "fallbacks", [_name(m) for m in recipe.fallbacks]),
    ]
    for name, key, value in parts:
        layer = recipe.origins.get(key, "settings")
        if layer == "profile":
            told = where
        elif layer == "argument":
            told = "flag"
        elif key in _SETTING_OF:
            told = origin(_SETTING_OF[key])
        else:
            told = "default"
        if name == "tools" and value is None:
            rows.append(("# tools =", f"# every available tool ({told})"))
        elif name == "model" and value is None:
            rows.append(_detected_model())
        else:
            rows.append(_row(name, value, told))
    return rows


def _detected_model() -> tuple[str, str]:
    """The model a run would detect when nothing names one (no server is asked: the
    choice ``ahora models`` confirms by asking)."""
    from ahora.models import choose_model

    try:
        choice = choose_model(Settings.load(), probe=False)
    except ConfigurationError:
        return "# model =", "# not set, and none detected (see `ahora models`)"
    return f"# model = {_toml_value(choice.spec)}", f"# detected: {choice.reason}"


def _name(item: Any) -> str:
    return item if isinstance(item, str) else str(getattr(item, "name", item))
