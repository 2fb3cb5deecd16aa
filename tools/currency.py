"""A local tool: currency conversion at the European Central Bank's reference rates.

Uses Frankfurter (https://frankfurter.dev, no key):
``GET {frankfurter_url}/v1/latest?base=USD&symbols=EUR,GBP`` answers
``{"amount": 1.0, "base": "USD", "date": "2026-11-20", "rates": {"EUR": 0.92, ...}}``.
The rates are published once a working day, so the reply says which day they are
from. We always ask for the rate of 1 unit and multiply here, so one cached answer
serves every amount. An unknown code gets a clear error naming it (checked against
``/v1/currencies``) and the closest known codes.

Files in ``tools/`` are loaded by ahora's registry (``ahora tools`` lists them); copy
this one as a template for your own.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from langchain_core.tools import tool

from ahora import http
from ahora.errors import ToolFailure
from ahora.settings import get_settings
from ahora.tools._common import Artifact, failures_as_messages, source

__all__ = ["currency"]

_CODE = re.compile(r"^[A-Za-z]{3}$")


def _codes(text: str) -> list[str]:
    """ "eur, gbp" -> ["EUR", "GBP"] (order kept, duplicates dropped), or ToolFailure."""
    out: list[str] = []
    for part in re.split(r"[,\s;/]+", text.strip()):
        if not part:
            continue
        if not _CODE.match(part):
            raise ToolFailure(
                f"{part!r} is not a currency code; use three-letter ISO 4217 codes such as "
                "USD, EUR, GBP or JPY"
            )
        if part.upper() not in out:
            out.append(part.upper())
    return out


def _base_url() -> str:
    return get_settings().frankfurter_url.rstrip("/")


def _get(path: str, params: dict[str, str] | None = None) -> tuple[Any, int, str]:
    resp = http.get(f"{_base_url()}{path}", params=params, settings=get_settings())
    try:
        data: Any = resp.json()
    except ValueError:
        data = None
    return data, resp.status_code, resp.url


def _unknown(codes: list[str]) -> ToolFailure:
    """Name the codes Frankfurter does not know, with the closest known ones."""
    data, status, _ = _get("/v1/currencies")
    known = data if status == 200 and isinstance(data, dict) else {}
    bad = [c for c in codes if known and c not in known]
    if not bad:
        return ToolFailure(f"Frankfurter has no rates for {', '.join(codes)}")
    hints = []
    for code in bad:
        close = difflib.get_close_matches(code, list(known), n=3, cutoff=0.5)
        hints.append(f"{code}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    return ToolFailure(
        f"unknown currency code {', '.join(hints)}; Frankfurter knows {len(known)} currencies, "
        "such as USD, EUR, GBP, JPY, CHF, CNY, BRL, MXN, INR"
    )


def _format_number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.6g}"


@tool("currency", parse_docstring=True, response_format="content_and_artifact")
@failures_as_messages
def currency(from_currency: str, to_currencies: str, amount: float = 1.0) -> tuple[str, Artifact]:
    """Convert money between currencies at today's European Central Bank reference rates.

    Args:
        from_currency: The ISO 4217 code to convert from, such as "USD".
        to_currencies: One or more ISO 4217 codes to convert to, comma-separated: "EUR,GBP".
        amount: How much of from_currency to convert.
    """
    base = _codes(from_currency)
    if len(base) != 1:
        raise ToolFailure("from_currency must be exactly one three-letter code, such as USD")
    targets = [c for c in _codes(to_currencies) if c != base[0]]
    if not targets:
        raise ToolFailure("give at least one currency to convert to, other than from_currency")
    try:
        data, status, url = _get("/v1/latest", {"base": base[0], "symbols": ",".join(targets)})
    except ToolFailure as exc:
        raise ToolFailure(f"Frankfurter is unreachable: {exc}") from exc
    if status in (400, 404, 422):
        raise _unknown([base[0], *targets])
    if status >= 400:
        raise ToolFailure(f"Frankfurter answered HTTP {status}; try again later")
    rates = data.get("rates") if isinstance(data, dict) else None
    if not isinstance(rates, dict):
        raise ToolFailure("Frankfurter sent a malformed reply (no rates)")
    missing = [c for c in targets if c not in rates]
    if missing:
        raise _unknown(missing)
    day = str(data.get("date", "an unknown date"))
    lines = [
        f"{_format_number(amount)} {base[0]} = {_format_number(amount * float(rates[c]))} {c} "
        f"(1 {base[0]} = {float(rates[c]):.6g} {c})"
        for c in targets
    ]
    lines.append(f"European Central Bank reference rates of {day} (via Frankfurter).")
    return "\n".join(lines), {"sources": [source(url, f"Frankfurter exchange rates of {day}")]}
