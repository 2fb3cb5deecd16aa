"""What a model call cost, where the provider's prices are known.

Prices are US dollars per million tokens (input, output). The table below holds the
list prices of common models when this release was made; providers change them, so
the config file's ``[prices]`` table (``"model-name" = [input, output]``) overrides
and extends it. A model missing from both has an unknown cost: the cost budget then
cannot apply, and ``Answer.cost_usd`` is None rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["LIST_PRICES", "call_cost", "price_of"]

LIST_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-opus-4-1": (15.00, 75.00),
}


def price_of(
    model: str | None, overrides: Mapping[str, tuple[float, float]] | None = None
) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens, or None when unknown.

    Dated snapshots match their base name (``gpt-4.1-mini-2025-04-14``); other
    variants (``gpt-4o-audio-preview``) do not: their prices differ.
    """
    if not model:
        return None
    name = model.split(":", 1)[-1].lower()
    table = {**LIST_PRICES, **{k.lower(): tuple(v) for k, v in (overrides or {}).items()}}
    for candidate in sorted(table, key=len, reverse=True):
        if name == candidate or re.fullmatch(re.escape(candidate) + r"-\d{4}-?\d{2}-?\d{2}", name):
            price = table[candidate]
            return (float(price[0]), float(price[1]))
    return None


def call_cost(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    overrides: Mapping[str, tuple[float, float]] | None = None,
) -> float | None:
    price = price_of(model, overrides)
    if price is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000
