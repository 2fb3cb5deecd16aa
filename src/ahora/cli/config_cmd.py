"""``ahora config path|show``: where the TOML config file lives, and the settings in effect.

The file's keys are ``Settings`` field names (flat, or under an ``[ahora]`` table):

    model = "openai:gpt-4.1-mini"
    units = "imperial"
    search_backend = "searxng"
    searxng_url = "http://localhost:8888"

Precedence: command-line flags > environment (``AHORA_*``, ``OPENAI_API_KEY`` ...) >
this file > defaults. ``show`` prints every setting with where its value came from,
secrets masked, in a form that can be pasted back into the file.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import typer

from ahora.cli.common import fail
from ahora.errors import ConfigurationError
from ahora.settings import Settings, _read_config, _read_env, config_path

__all__ = ["app", "mask"]

app = typer.Typer(
    name="config", help="The config file: where it is, what is in effect.", no_args_is_help=True
)

_SECRET = re.compile(r"key|token|secret|password|passwd|authorization", re.IGNORECASE)


def _mask_text(value: str) -> str:
    return "****" + value[-4:] if len(value) >= 12 else "****"


def _mask_url(value: str) -> str:
    """``postgresql://user:pw@host/db`` -> ``postgresql://user:****@host/db``."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return _mask_text(value)
    if parts.password is None:
        return value
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def mask(name: str, value: Any) -> Any:
    """The value with secrets hidden (keys, tokens, passwords, also inside tables)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: mask(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(name, v) for v in value]
    if isinstance(value, str):
        if _SECRET.search(name):
            return _mask_text(value)
        if "://" in value and "@" in value:
            return _mask_url(value)
    return value


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


@app.command("show")
def show() -> None:
    """Print the settings in effect and where each comes from (secrets masked)."""
    import os

    file = config_path()
    try:
        settings = Settings.load()
        from_file = _read_config(file)
    except ConfigurationError as exc:
        raise fail(str(exc)) from None
    from_env = _read_env(os.environ)
    lines = [f"# config file: {file}" + ("" if file.exists() else " (not created yet)")]
    rows: list[tuple[str, str]] = []
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        if f.name in from_env:
            origin = "environment"
        elif f.name in from_file:
            origin = "config file"
        elif f.name == "home":
            origin = "AHORA_HOME" if os.environ.get("AHORA_HOME") else "default"
        else:
            origin = "default"
        shown = mask(f.name, value)
        if shown is None:
            rows.append((f"# {f.name} =", f"# not set ({origin})"))
        else:
            rows.append((f"{f.name} = {_toml_value(shown)}", f"# {origin}"))
    width = min(max(len(a) for a, _ in rows) + 2, 70)
    lines += [f"{a:<{width}}{b}" for a, b in rows]
    typer.echo("\n".join(lines))
