"""Every knob ahora has, in one object.

Read from ``AHORA_*`` environment variables (plus the providers' own, such as
``OPENAI_API_KEY``) and the TOML config file; defaults otherwise. Precedence:
explicit arguments > environment > config file > defaults.

This module is deliberately a plain dataclass over ``os.environ`` and ``tomllib``
(not pydantic-settings): the CLI imports it on every start and must stay fast.
"""

from __future__ import annotations

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

    # storage
    home: Path = field(default_factory=data_dir)
    postgres_url: str | None = field(default=None, repr=False)
    keep_history: bool = False
    """Keep every checkpoint of saved threads (LangGraph's time travel), not only the latest."""

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

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        config_file: Path | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from the config file, then the environment, then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {"home": data_dir(env)}
        path = config_file if config_file is not None else config_path(env)
        values.update(_read_config(path))
        values.update(_read_env(env))
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise InvalidSettings(
                    f"unknown setting {key!r} (known: {', '.join(sorted(known))})"
                )
        return cls(**{k: _coerce(known[k], v) for k, v in values.items()})


_PROVIDER_ENV = {
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
}


def _read_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name in ("home", "mcp_servers", "prices"):
            continue
        name = _PROVIDER_ENV.get(f.name, f"AHORA_{f.name.upper()}")
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
    return flat


def _coerce(f: dataclasses.Field[Any], value: Any) -> Any:
    """Turn env/config strings into the field's type, with a clear message when impossible."""
    kind = str(f.type)
    try:
        if f.name == "home":
            return Path(value).expanduser()
        if f.name == "fallback_models":
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(value)
        if f.name == "prices":
            if not isinstance(value, Mapping) or not all(
                isinstance(v, list | tuple) and len(v) == 2 for v in value.values()
            ):
                raise ValueError('expected a table of "model" = [input, output] dollars')
            return {str(k): (float(v[0]), float(v[1])) for k, v in value.items()}
        if f.name == "mcp_servers":
            if not isinstance(value, Mapping):
                raise ValueError("expected a table of servers")
            return dict(value)
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            low = str(value).strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true or false")
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
        if f.name == "units" and value not in ("metric", "imperial"):
            raise ValueError("expected metric or imperial")
        if f.name == "search_backend" and value not in ("ddgs", "searxng"):
            raise ValueError("expected ddgs or searxng")
        return value
    except (TypeError, ValueError) as exc:
        raise InvalidSettings(f"setting {f.name} = {value!r}: {exc}") from exc


def get_settings() -> Settings:
    """Settings as the environment and config file say right now (cheap; not cached)."""
    return Settings.load()
