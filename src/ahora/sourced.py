"""``Sourced[T]``: a field of a typed answer that says which page its value came from.

Fresh data is only worth what its source is worth. A typed answer can carry
provenance per field by typing the field as ``Sourced[T]``::

    class Rates(BaseModel):
        usd_eur: Sourced[float]
        usd_gbp: Sourced[float]

    answer = agent.ask("Today's dollar in euros and pounds?", output=Rates)
    answer.output.usd_eur.value                  # 0.92
    answer.output.usd_eur.source                 # the URL the figure came from
    answer.source(answer.output.usd_eur.source)  # its title and fetched_at

The model fills ``source`` with a URL from the tool results; ahora checks each one
against the sources this run actually fetched, and a URL the run never saw goes back
to the model as a validation error (``middleware/typed_output.py``), so a value
cannot cite a page that was not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

__all__ = ["Sourced", "cited_urls"]

T = TypeVar("T")


class Sourced(BaseModel, Generic[T]):
    """A value and the URL of the source it was taken from."""

    value: T
    source: str = Field(
        description=(
            "The URL of the tool result this value was taken from, exactly as the tool "
            "gave it in its sources."
        )
    )


def cited_urls(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every ``(field path, URL)`` a typed answer cites through ``Sourced`` fields."""
    if isinstance(value, Sourced):
        yield path or "the answer", value.source
        yield from cited_urls(value.value, f"{path}.value" if path else "value")
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from cited_urls(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from cited_urls(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from cited_urls(item, f"{path}.{key}" if path else str(key))
