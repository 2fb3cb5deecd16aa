"""Secrets hidden from everything ahora shows: settings, URLs, error messages, reprs.

One masker, so ``ahora config show``, ``ahora models``, connection errors and
``repr(Settings)`` hide the same things: whole values under secret-looking names
(keys, tokens, passwords, also inside tables and argument lists), the password in a
URL (``user:****@``) and secret-named query values (``?api-key=****``), keyword-form
passwords, and tokens recognisable by their shape wherever they appear.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["mask", "mask_text", "mask_url", "mask_urls"]

_SECRET = re.compile(
    r"key|token|secret|passw|pwd|authorization|credential|(?:^|[-_.])auth(?:$|[-_.])|"
    r"(?:^|[-_.])(?:sig|signature|pat)$",
    re.IGNORECASE,
)
# Keyword-form connection strings (libpq: "host=db user=me password='s e c'").
_KEYWORD_PASSWORD = re.compile(r"""\b(password|passwd|pwd)(\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)""", re.I)
# Tokens recognisable by their shape wherever they appear (argument lists, URLs, text).
_TOKEN_SHAPE = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_\w{16,}"
    r"|xox[abprs]-[\w-]{8,}|AKIA[0-9A-Z]{16}|glpat-[\w-]{16,})"
)


def mask_text(value: str) -> str:
    return "****" + value[-4:] if len(value) >= 12 else "****"


def mask_url(value: str) -> str:
    """``postgresql://user:pw@host/db?sslpassword=x`` -> the password and secret-named
    query values replaced by ``****``."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return mask_text(value)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":****@", 1)
    query = "&".join(_mask_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit(parts._replace(netloc=netloc, query=query))


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def mask_urls(text: str) -> str:
    """``text`` with every URL in it masked (``mask_url``): for messages that quote one."""
    return _URL.sub(lambda m: mask_url(m[0]), text)


def _mask_pair(pair: str) -> str:
    name, eq, value = pair.partition("=")
    return f"{name}=****" if eq and value and _SECRET.search(name) else pair


def _mask_inline(value: str) -> str:
    """Secrets inside a value whose own name is harmless: URL passwords and query
    tokens, keyword-form passwords, and tokens recognisable by their shape."""
    if "://" in value:
        value = mask_url(value)
    value = _KEYWORD_PASSWORD.sub(lambda m: f"{m[1]}{m[2]}****", value)
    return _TOKEN_SHAPE.sub(lambda m: mask_text(m[0]), value)


def _mask_args(name: str, items: list[Any] | tuple[Any, ...]) -> list[Any]:
    """A command line (an MCP server's ``args``): ``--token X`` and ``--api-key=X`` hide X."""
    out: list[Any] = []
    hide_next = False
    for item in items:
        if not isinstance(item, str):
            out.append(mask(name, item))
            hide_next = False
            continue
        if hide_next:
            out.append(mask_text(item))
            hide_next = False
            continue
        flag, eq, rest = item.partition("=")
        if item.startswith("-") and _SECRET.search(flag.lstrip("-")):
            if eq:
                out.append(f"{flag}={mask_text(rest)}")
            else:
                out.append(item)
                hide_next = True
            continue
        out.append(mask(name, item))
    return out


def mask(name: str, value: Any) -> Any:
    """The value with secrets hidden: whole values under secret names (keys, tokens,
    passwords, also inside tables), and secrets inside others (see ``_mask_inline``)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: mask(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        secret = _SECRET.search(name)
        items = [mask(name, v) for v in value] if secret else _mask_args(name, value)
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, str):
        if _SECRET.search(name):
            return mask_text(value)
        return _mask_inline(value)
    return value
