"""Connecting to PostgreSQL (psycopg imported on first use), with the password hidden
in every message."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ahora.errors import InvalidSettings

__all__ = ["cannot_connect", "connect_postgres", "redact"]


def connect_postgres(url: str, **options: Any) -> Any:
    """``psycopg.Connection.connect(url, **options)``; a missing psycopg or an unreachable
    server is ``InvalidSettings``, with the password hidden."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise InvalidSettings(
            "PostgreSQL support is not installed: pip install 'ahora[postgres]'"
        ) from exc
    options.setdefault("connect_timeout", 10)  # a host that drops packets must not hang
    try:
        return psycopg.Connection.connect(url, **options)
    except psycopg.Error as exc:
        raise InvalidSettings(cannot_connect(url, exc)) from exc


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def cannot_connect(url: str, exc: BaseException) -> str:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    password = urlsplit(url).password
    if password and len(password) >= 4:  # shorter ones would mangle ordinary words
        reason = reason.replace(password, "***")
    return f"cannot connect to PostgreSQL at {redact(url)} (AHORA_POSTGRES_URL): {reason}"
