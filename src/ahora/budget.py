"""``Budget``: what one run may spend, the one value object for limits everywhere.

``Agent(budget=...)``, ``agent.ask(q, budget=...)``, ``build_agent(budget=...)``,
profiles and the CLI's flags all end in one ``Budget``, which travels with each run
in its ``RunContext`` (``ahora.context``). ``tightened`` is how a caller that may only
lower a limit (a client of the server, a sub-agent) combines its wishes with the
operator's.

Light imports only: the CLI builds budgets before LangChain is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ahora.errors import InvalidSettings

__all__ = ["Budget"]

# The names a budget field goes by on the command line, in profiles and in settings.
_OPTION_NAMES = {
    "steps": "max_steps",
    "tokens": "max_tokens",
    "cost": "max_cost",
    "seconds": "timeout",
}


@dataclass(frozen=True, kw_only=True)
class Budget:
    """What one run may spend: model calls, tokens, dollars and seconds (None: no limit).

    Past ``steps`` (the last call answers without tools), ``tokens`` or ``cost`` the
    run wraps up with what it has; ``seconds`` is a wall-clock deadline.
    """

    steps: int = 12
    tokens: int | None = None
    cost: float | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        _check_whole("max_steps", self.steps)
        if self.tokens is not None:
            _check_whole("max_tokens", self.tokens)
        if self.cost is not None and _not_positive(self.cost):
            raise InvalidSettings(
                f"max_cost must be a positive number of dollars, not {self.cost!r}"
            )
        if self.seconds is not None and _not_positive(self.seconds):
            raise InvalidSettings(
                f"timeout must be a positive number of seconds, not {self.seconds!r}"
            )

    def tightened(self, other: Budget | Mapping[str, Any] | None) -> Budget:
        """Each limit the lower of this one and ``other``'s: never looser than ``self``.

        ``other`` may be a ``Budget`` or a mapping (a client's JSON) with the fields'
        own names or their option names (``max_steps``, ``timeout`` ...); unknown keys
        are refused so a typo is not silently ignored.
        """
        if other is None:
            return self
        wanted = _as_fields(other)
        merged: dict[str, Any] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), wanted.get(f.name)
            merged[f.name] = (
                mine if theirs is None else theirs if mine is None else min(mine, theirs)
            )
        return Budget(**merged)


def _as_fields(other: Budget | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(other, Budget):
        return {f.name: getattr(other, f.name) for f in fields(other)}
    if not isinstance(other, Mapping):
        raise InvalidSettings(f"a budget must be a Budget or a mapping, not {type(other).__name__}")
    by_option = {v: k for k, v in _OPTION_NAMES.items()}
    out: dict[str, Any] = {}
    for key, value in other.items():
        name = by_option.get(str(key), str(key))
        if name not in _OPTION_NAMES:
            known = ", ".join(sorted(_OPTION_NAMES.values()))
            raise InvalidSettings(f"unknown budget field {key!r}; known: {known}")
        out[name] = value
    # Validate the wishes on their own, so a bad value names itself.
    steps = out.get("steps")
    Budget(**{**out, "steps": 1 if steps is None else steps})
    return out


def _not_positive(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int | float) or not value > 0


def _check_whole(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidSettings(f"{name} must be a whole number of at least 1, not {value!r}")
