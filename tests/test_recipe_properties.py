"""The recipe's edges: what counts as a number, a tool's name, an empty list, an approval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.tools import tool

from ahora.errors import InvalidSettings, InvalidTool
from ahora.recipe import Budget, Choices, resolve_recipe
from ahora.settings import Settings

BUDGET_ARGS = {
    "steps": "max_steps",
    "tokens": "max_tokens",
    "cost": "max_cost",
    "seconds": "timeout",
}


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(sorted(BUDGET_ARGS)),
    st.one_of(
        st.booleans(),
        st.integers(max_value=0),
        st.floats(max_value=0, allow_nan=False),
        st.just(float("nan")),
        st.text(max_size=3),
    ),
)
def test_a_budget_refuses_booleans_and_anything_not_positive(field: str, value: Any) -> None:
    with pytest.raises((InvalidSettings, TypeError)):
        Budget(**{field: value})
    with pytest.raises((InvalidSettings, TypeError)):
        resolve_recipe(Choices(**{BUDGET_ARGS[field]: value}), Settings.load({}))


@pytest.mark.parametrize("field", ["steps", "tokens"])
def test_whole_number_budgets_refuse_fractions(field: str) -> None:
    with pytest.raises(InvalidSettings):
        Budget(**{field: 2.5})


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10**6), st.floats(0.001, 1e6), st.floats(0.001, 1e6))
def test_a_budget_keeps_any_positive_value_as_given(n: int, cost: float, seconds: float) -> None:
    budget = Budget(steps=n, tokens=n, cost=cost, seconds=seconds)
    assert (budget.steps, budget.tokens, budget.cost, budget.seconds) == (n, n, cost, seconds)


def test_true_is_not_one_second_anywhere() -> None:
    for field, arg in BUDGET_ARGS.items():
        with pytest.raises(InvalidSettings, match=arg if field != "seconds" else "timeout"):
            resolve_recipe(Choices(**{arg: True}), Settings.load({}))


# --- fallbacks: an empty list is a choice --------------------------------------------


@pytest.mark.parametrize("lower", [("openai:gpt-4o-mini",), ("a:b", "c:d")])
def test_an_empty_fallback_list_overrides_the_lower_layers(lower: tuple[str, ...]) -> None:
    s = Settings.load({"AHORA_FALLBACK_MODELS": ",".join(lower)})
    assert tuple(s.fallback_models) == lower
    inherited = resolve_recipe(Choices(), s)
    assert inherited.fallbacks == lower and inherited.origins["fallbacks"] == "settings"
    none = resolve_recipe(Choices(fallbacks=[]), s)
    assert none.fallbacks == () and none.origins["fallbacks"] == "argument"
    own = resolve_recipe(Choices(fallbacks=["x:y"]), s)
    assert own.fallbacks == ("x:y",)


def test_empty_tool_and_approval_lists_are_choices_too() -> None:
    recipe = resolve_recipe(Choices(tools=[], approvals=[]), Settings.load({}))
    assert recipe.tools == () and recipe.origins["tools"] == "argument"
    assert recipe.approvals == () and recipe.origins["approvals"] == "argument"
    assert resolve_recipe(Choices(), Settings.load({})).tools is None  # every tool


# --- tools and approvals -------------------------------------------------------------


def _profile(folder: Path, approval: list[str], tools: list[str] | None = None) -> str:
    lines = ['name = "p"', 'description = "A test profile."', 'instructions = "Be useful."']
    lines.append(f"approval = {approval!r}")
    if tools is not None:
        lines.append(f"tools = {tools!r}")
    path = folder / "p.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@tool
def calculator(expression: str) -> str:
    """Compute.

    Args:
        expression: What to compute.
    """
    return expression


def weather(location: str) -> str:
    """The weather.

    Args:
        location: Where.
    """
    return location


@pytest.mark.parametrize(
    ("chosen", "gated"),
    [
        (["calculator", "weather"], ("calculator", "weather")),  # names
        ([calculator], ("calculator",)),  # a tool object, by its name
        ([weather], ("weather",)),  # a plain function, by its name
        ([calculator, "clock"], ("calculator",)),
        (["clock"], ()),  # none of the gated tools was chosen
    ],
)
def test_a_profiles_approvals_follow_the_chosen_tools_whatever_their_form(
    tmp_path: Path, chosen: list[Any], gated: tuple[str, ...]
) -> None:
    profile = _profile(tmp_path, ["calculator", "weather"])
    recipe = resolve_recipe(Choices(profile=profile, tools=chosen), Settings.load({}))
    assert recipe.approvals == gated


def test_a_profiles_approvals_stand_when_the_tools_are_not_chosen(tmp_path: Path) -> None:
    profile = _profile(tmp_path, ["calculator"], tools=["calculator", "clock"])
    recipe = resolve_recipe(Choices(profile=profile), Settings.load({}))
    assert recipe.approvals == ("calculator",) and recipe.origins["approvals"] == "profile"
    chosen = resolve_recipe(Choices(profile=profile, approvals=["clock"]), Settings.load({}))
    assert chosen.approvals == ("clock",) and chosen.origins["approvals"] == "argument"


@pytest.mark.parametrize("bad", ["calculator", b"calculator", 3, {"calculator": True}])
def test_approvals_and_tools_must_be_lists(bad: Any) -> None:
    with pytest.raises(InvalidTool, match="approvals must be a list of tool names"):
        resolve_recipe(Choices(approvals=bad), Settings.load({}))
    with pytest.raises(InvalidTool, match="tools must be a list"):
        resolve_recipe(Choices(tools=bad), Settings.load({}))


@pytest.mark.parametrize("field", sorted(BUDGET_ARGS))
def test_zero_is_refused_for_every_budget(field: str) -> None:
    with pytest.raises(InvalidSettings):
        Budget(**{field: 0})


def test_where_the_instructions_came_from(tmp_path: Path) -> None:
    s = Settings.load({})
    assert resolve_recipe(Choices(), s).origins["instructions"] == "settings"
    profile = _profile(tmp_path, [])
    assert resolve_recipe(Choices(profile=profile), s).origins["instructions"] == "profile"
    both = resolve_recipe(Choices(profile=profile, instructions="Be brief."), s)
    assert both.origins["instructions"] == "argument"
    assert both.instructions == "Be useful.\n\nBe brief."  # added after the profile's


def test_the_tools_list_message_says_what_a_tool_may_be() -> None:
    with pytest.raises(InvalidTool) as info:
        resolve_recipe(Choices(tools="calculator"), Settings.load({}))  # type: ignore[arg-type]
    assert str(info.value) == "tools must be a list of tools, callables or tool names"
    with pytest.raises(InvalidTool) as info:
        resolve_recipe(Choices(approvals="calculator"), Settings.load({}))  # type: ignore[arg-type]
    assert str(info.value) == "approvals must be a list of tool names"


def test_a_chosen_callable_without_a_name_gates_nothing(tmp_path: Path) -> None:
    import functools

    unnamed = functools.partial(weather)  # neither .name nor __name__
    profile = _profile(tmp_path, ["weather"])
    recipe = resolve_recipe(Choices(profile=profile, tools=[unnamed]), Settings.load({}))
    assert recipe.approvals == ()


def test_the_profiles_tool_names_are_checked_against_the_given_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tool that only these settings know (their --tools-dir) is found; the process's
    own settings, which do not know it, are not what is asked."""
    monkeypatch.setenv("AHORA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AHORA_TOOLS_DIR", raising=False)
    folder = tmp_path / "mytools"
    folder.mkdir()
    (folder / "shout.py").write_text(
        "from langchain_core.tools import tool\n\n\n@tool\ndef shout(text: str) -> str:\n"
        '    """Shout.\n\n    Args:\n        text: What to shout.\n    """\n'
        "    return text.upper()\n",
        encoding="utf-8",
    )
    profile = _profile(tmp_path, [], tools=["shout"])
    s = Settings.load({"AHORA_HOME": str(tmp_path / "home"), "AHORA_TOOLS_DIR": str(folder)})
    recipe = resolve_recipe(Choices(profile=profile), s)
    assert recipe.tools == ("shout",)
