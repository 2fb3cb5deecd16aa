"""Every knob ahora has, in one object.

Read from ``AHORA_*`` environment variables (plus the providers' own, such as
``OPENAI_API_KEY``) and the TOML config file; defaults otherwise. Settings hold the
three lowest layers of ahora's one precedence, environment > config file > defaults
(``Settings.load(**overrides)`` puts overrides on top). For what makes an agent (model,
tools, budgets) a chosen profile and explicit flags or arguments sit above them:
flag or argument > profile > environment > config file > default (``ahora.recipe``).

This module is deliberately a plain dataclass over ``os.environ`` and ``tomllib``
(not pydantic-settings): the CLI imports it on every start and must stay fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ahora.errors import InvalidSettings

__all__ = ["Settings", "config_path", "data_dir", "get_settings", "is_secret_name"]

_SECRET_NAME = re.compile(
    r"(?:^|_)(?:API_?)?KEYS?(?:$|_)|APIKEY|TOKEN|SECRET|PASSW|CREDENTIAL"
    r"|(?:^|_)AUTH(?:$|_|ORIZATION)|(?:^|_)PAT(?:$|_)|(?:^|_)DSN$",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a setting or environment variable of this name holds a secret
    (``OPENAI_API_KEY``, ``AWS_SECRET_ACCESS_KEY``, ``GITHUB_PAT``, ``postgres_url``...)."""
    return bool(_SECRET_NAME.search(name)) or name.lower() == "postgres_url"


Units = Literal["metric", "imperial"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the TOML config file lives (``AHORA_CONFIG`` overrides)."""
    env = os.environ if environ is None else environ
    if env.get("AHORA_CONFIG"):
        return Path(env["AHORA_CONFIG"]).expanduser()
    if env.get("AHORA_HOME"):
        return Path(env["AHORA_HOME"]).expanduser() / "config.toml"
    from platformdirs import user_config_dir

    return Path(user_config_dir("ahora", appauthor=False)) / "config.toml"


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where ahora writes its files: ``AHORA_HOME`` or the platform's user data dir."""
    env = os.environ if environ is None else environ
    if env.get("AHORA_HOME"):
        return Path(env["AHORA_HOME"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("ahora", appauthor=False))


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter (0700), made with its missing parents.

    Conversations, indexed documents and chat history live in the data folder; with
    the usual umask they would be readable by every local user. Bits are only ever
    taken away (a folder someone made read-only stays so), and a folder that is not
    ours keeps its mode.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    _restrict(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner can read (0600), created empty if missing, in a
    private folder. SQLite gives its ``-wal`` and ``-shm`` files the database's mode."""
    private_dir(path.parent)
    # A folder or file we may not write: the reader opens it read-only or reports it.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
    _restrict(path, 0o600)
    return path


def _restrict(path: Path, allowed: int) -> None:
    with contextlib.suppress(OSError):  # not ours, or gone: nothing we may change
        mode = path.stat().st_mode & 0o7777
        if mode & ~allowed:
            os.chmod(path, mode & allowed)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """All of ahora's settings. Field name ``x`` reads env var ``AHORA_X``."""

    # model selection
    model: str | None = None
    fallback_models: tuple[str, ...] = ()
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    anthropic_api_key: str | None = field(default=None, repr=False)
    ollama_host: str = "http://localhost:11434"
    model_timeout: float = 120.0
    model_max_retries: int = 3
    models: Mapping[str, Any] = field(default_factory=dict)
    """``[models."provider:name"]`` tables: per-model facts, e.g. ``context_window = 32768``."""

    # the loop
    max_steps: int = 12
    max_tokens: int | None = None
    max_cost: float | None = None
    """US dollars per answer; needs the model's prices (``ahora.pricing``)."""
    prices: Mapping[str, Any] = field(default_factory=dict)
    """``[prices]`` in the config file: ``"model" = [input, output]`` $ per 1M tokens."""
    timeout: float | None = None
    tool_timeout: float = 60.0
    tool_output_chars: int = 12_000
    max_tool_calls_per_reply: int = 16
    """Tool calls run from one model reply; the rest are answered with an error."""
    timezone: str | None = None
    units: Units = "metric"

    # tools
    search_backend: Literal["ddgs", "searxng"] | None = None
    searxng_url: str | None = None
    search_cache_seconds: int = 600
    geocoding_url: str = "https://geocoding-api.open-meteo.com"
    open_meteo_url: str = "https://api.open-meteo.com"
    frankfurter_url: str = "https://api.frankfurter.dev"
    wikipedia_url: str = "https://en.wikipedia.org"
    allow_private_urls: bool = False
    http_timeout: float = 20.0
    http_retries: int = 3
    http_cache_seconds: int = 900
    page_max_bytes: int = 5_000_000
    page_chars: int = 6_000
    tools_dir: str | None = None
    mcp_servers: Mapping[str, Any] = field(default_factory=dict)
    server_tools: tuple[str, ...] = ()
    """Tools the LangGraph server may offer beyond the built-ins and plugins (local
    tools, MCP tools, ``search_docs``): the operator names them (``AHORA_SERVER_TOOLS``)."""

    # storage
    home: Path = field(default_factory=data_dir)
    config_file: Path = field(default_factory=config_path, repr=False)
    """The config file these settings were read from (or would be); the user's agent
    profiles live beside it. Not a setting itself: ``Settings.load`` fills it in."""
    postgres_url: str | None = field(default=None, repr=False)
    memory_threads: int = 1_000
    """Conversations ``Agent()`` keeps in memory without a checkpointer (least recent go)."""
    keep_history: bool = False
    """Keep every checkpoint of saved threads (LangGraph's time travel), not only the latest."""

    def __repr__(self) -> str:
        """Every shown field with its secrets masked (``ahora.masking``): a notebook cell
        that shows the settings shows no MCP header, env token, key argument or URL
        password. Keys and the PostgreSQL URL are not shown at all."""
        from ahora.masking import mask

        shown = (
            f"{f.name}={mask(f.name, getattr(self, f.name))!r}"
            for f in dataclasses.fields(self)
            if f.repr
        )
        return f"Settings({', '.join(shown)})"

    @property
    def effective_search_backend(self) -> Literal["ddgs", "searxng"]:
        """searxng when its URL is set and no backend was chosen, else ddgs."""
        if self.search_backend:
            return self.search_backend
        return "searxng" if self.searxng_url else "ddgs"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def threads_db(self) -> Path:
        return self.home / "threads.sqlite"

    @property
    def docs_db(self) -> Path:
        """The index of the user's documents (``ahora docs``, ``search_docs``)."""
        return self.home / "docs.sqlite"

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        config_file: Path | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from the config file, then the environment, then ``overrides``.

        A bad value raises ``InvalidSettings`` naming where it came from (the file and
        key, or the environment variable), the value and what was expected; a
        misspelt key gets the nearest known one suggested.
        """
        env = os.environ if environ is None else environ
        path = config_path(env) if config_file is None else config_file
        values: dict[str, Any] = {"home": data_dir(env), "config_file": path}
        where: dict[str, str] = {"home": "AHORA_HOME", "config_file": "AHORA_CONFIG"}
        from_file = _read_config(path)
        from_env = _read_env(env)
        given = {k: v for k, v in overrides.items() if v is not None}
        every = {f.name: f for f in dataclasses.fields(cls)}
        known = {name: f for name, f in every.items() if name not in _NOT_SETTINGS}
        for layer, label in ((from_file, f"config file {path}"), (given, "argument")):
            for key in layer:
                if key not in known:
                    raise InvalidSettings(f"{label}: {_unknown(key, known)}")
        values.update(from_file)
        where.update({k: f"config file {path}" for k in from_file})
        values.update(from_env)
        where.update({k: f"environment variable {_env_name(k)}" for k in from_env})
        values.update(given)
        where.update({k: f"argument {k}" for k in given})
        return cls(**{k: _coerce(every[k], v, where[k]) for k, v in values.items()})


_NOT_SETTINGS = ("config_file",)
"""Fields that record where settings came from; no file or variable sets them."""


def _unknown(key: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        return f"unknown setting {key!r}; did you mean {close[0]!r}?"
    return f"unknown setting {key!r} (known: {', '.join(sorted(known))})"


_PROVIDER_ENV = {
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
}


def _env_name(setting: str) -> str:
    return _PROVIDER_ENV.get(setting, f"AHORA_{setting.upper()}")


def _read_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name in ("home", "mcp_servers", "prices", "models", *_NOT_SETTINGS):
            continue
        name = _env_name(f.name)
        if name in env and env[name] != "":
            out[f.name] = env[name]
    if env.get("OLLAMA_HOST"):
        host = env["OLLAMA_HOST"]
        out["ollama_host"] = host if "://" in host else f"http://{host}"
    return out


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidSettings(f"cannot read config file {path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSettings(f"config file {path} is not valid TOML: {exc}") from exc
    # Allow both flat keys and an [ahora] table; [mcp_servers] is a table of tables.
    flat = dict(data.pop("ahora", {}))
    flat.update(data)
    # A relative tools_dir names a folder beside the config file, never one in every
    # working folder (naming a folder is trust; a relative name would name them all).
    if isinstance(flat.get("tools_dir"), str) and flat["tools_dir"]:
        flat["tools_dir"] = str(path.parent / Path(flat["tools_dir"]).expanduser())
    return flat


_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
}


def _coerce(f: dataclasses.Field[Any], value: Any, where: str = "setting") -> Any:
    """Turn env/config values into the field's type, or say plainly what was expected."""
    try:
        return _convert(f, value)
    except (TypeError, ValueError) as exc:
        raise InvalidSettings(f"{where}: {f.name} = {value!r}: {exc}") from exc


def _convert(f: dataclasses.Field[Any], value: Any) -> Any:
    kind = str(f.type).split(" |")[0].split("[")[0]
    if f.name in ("home", "config_file"):
        return Path(value).expanduser()
    if f.name in ("fallback_models", "server_tools"):
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            example = '"openai:gpt-4.1-mini"' if f.name == "fallback_models" else '"search_docs"'
            raise ValueError(f"expected a list of names, e.g. [{example}]")
        return tuple(value)
    if f.name == "prices":
        if not isinstance(value, Mapping) or not all(
            isinstance(v, list | tuple) and len(v) == 2 for v in value.values()
        ):
            raise ValueError('expected a table of "model" = [input, output] dollars')
        return {str(k): (float(v[0]), float(v[1])) for k, v in value.items()}
    if f.name == "models":
        if not isinstance(value, Mapping) or not all(
            isinstance(v, Mapping) for v in value.values()
        ):
            raise ValueError('expected tables like [models."openai:my-local"]')
        return {str(k): dict(v) for k, v in value.items()}
    if f.name == "mcp_servers":
        if not isinstance(value, Mapping):
            raise ValueError("expected a table of servers")
        return dict(value)
    if f.name == "units" and value not in ("metric", "imperial"):
        raise ValueError("expected metric or imperial")
    if f.name == "search_backend" and value not in ("ddgs", "searxng"):
        raise ValueError("expected ddgs or searxng")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        low = str(value).strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("expected true or false")
    expected = f"expected {_EXPECTED.get(kind, kind)}"
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(expected)
        try:
            return int(value)
        except ValueError:
            raise ValueError(expected) from None
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(expected)
        try:
            return float(value)
        except ValueError:
            raise ValueError(expected) from None
    if kind == "str" and not isinstance(value, str):
        raise ValueError(expected)
    return value


def get_settings() -> Settings:
    """Settings as the environment and config file say right now (cheap; not cached)."""
    return Settings.load()
