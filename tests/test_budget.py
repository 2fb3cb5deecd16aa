"""``Budget``: the one value object for limits, and how a caller may only tighten it."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ahora import Budget
from ahora.errors import InvalidSettings

whole = st.integers(min_value=1, max_value=10**6)
positive = st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False)
budgets = st.builds(
    Budget,
    steps=whole,
    tokens=st.none() | whole,
    cost=st.none() | positive,
    seconds=st.none() | positive,
)
FIELDS = ("steps", "tokens", "cost", "seconds")


def _at_most(a: Any, b: Any) -> bool:
    """``a`` is no looser than ``b`` (None is no limit)."""
    return b is None or (a is not None and a <= b)


@given(budgets, budgets)
def test_tightened_is_never_looser_than_either_side(mine: Budget, theirs: Budget) -> None:
    out = mine.tightened(theirs)
    for name in FIELDS:
        assert _at_most(getattr(out, name), getattr(mine, name)), name
        assert _at_most(getattr(out, name), getattr(theirs, name)), name
        assert getattr(out, name) in (getattr(mine, name), getattr(theirs, name))


@given(budgets, budgets)
def test_tightened_does_not_depend_on_the_order(a: Budget, b: Budget) -> None:
    assert a.tightened(b) == b.tightened(a)


@given(budgets)
def test_a_budget_tightened_by_itself_or_nothing_is_itself(b: Budget) -> None:
    assert b.tightened(b) == b
    assert b.tightened(None) is b
    assert b.tightened({}) == b


def test_a_mapping_uses_the_option_names_or_the_field_names() -> None:
    operator = Budget(steps=12, seconds=60)
    assert operator.tightened({"max_steps": 3, "timeout": 5}) == Budget(steps=3, seconds=5)
    assert operator.tightened({"steps": 30, "seconds": 600}) == operator  # never looser
    assert operator.tightened({"max_tokens": 100}).tokens == 100  # a new limit is a tighter one


@pytest.mark.parametrize(
    "wish",
    [
        {"max_step": 3},
        {"max_steps": 0},
        {"max_steps": True},
        {"timeout": -1},
        {"timeout": math.nan},
        {"max_cost": "cheap"},
    ],
)
def test_a_bad_wish_is_named_not_ignored(wish: dict[str, Any]) -> None:
    with pytest.raises(InvalidSettings) as caught:
        Budget().tightened(wish)
    assert str(next(iter(wish))).removeprefix("max_") in str(caught.value).replace("max_", "")


@pytest.mark.parametrize(
    "kwargs",
    [{"steps": 0}, {"steps": 1.5}, {"tokens": 0}, {"cost": 0}, {"seconds": True}, {"cost": "1"}],
)
def test_a_budget_checks_itself(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidSettings):
        Budget(**kwargs)
