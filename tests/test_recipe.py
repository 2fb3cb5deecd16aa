"""The recipe: one precedence, flag or argument > profile > environment > config file > default."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ahora.errors import InvalidProfile, InvalidSettings, InvalidTool
from ahora.recipe import Budget, Choices, resolve_recipe
from ahora.settings import Settings

LAYERS = ["argument", "profile", "environment", "config file", "default"]

# budget field -> the name of its flag/argument, profile key and setting
BUDGETS = {"steps": "max_steps", "tokens": "max_tokens", "cost": "max_cost", "seconds": "timeout"}

VALUES = {"argument": 2, "profile": 3, "environment": 4, "config file": 5}

# What Recipe.origins says for each layer: the three lower ones are the settings'.
ORIGIN = {
    "argument": "argument",
    "profile": "profile",
    "environment": "settings",
    "config file": "settings",
    "default": "settings",
}


def write_profile(folder: Path, **keys: object) -> Path:
    lines = ['name = "p"', 'description = "A test profile."', 'instructions = "Be useful."']
    lines += [f"{k} = {v!r}" for k, v in keys.items()]
    path = folder / "p.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def layered(
    tmp_path: Path, key: str, top: str, values: dict[str, object]
) -> tuple[Choices, Settings]:
    """Set ``key`` in ``top`` and in every layer below it, each to its own value."""
    present = LAYERS[LAYERS.index(top) :]
    config = tmp_path / "config.toml"
    config.write_text(f"{key} = {values['config file']!r}\n" if "config file" in present else "")
    env = {f"AHORA_{key.upper()}": str(values["environment"])} if "environment" in present else {}
    settings = Settings.load(env, config_file=config)
    profile_keys = {key: values["profile"]} if "profile" in present else {}
    profile = write_profile(tmp_path, **profile_keys)
    chosen = {key: values["argument"]} if "argument" in present else {}
    return Choices(profile=str(profile), **chosen), settings  # type: ignore[arg-type]


@pytest.mark.parametrize("top", LAYERS)
@pytest.mark.parametrize("budget", list(BUDGETS))
def test_every_budget_comes_from_the_highest_layer_that_sets_it(
    tmp_path: Path, budget: str, top: str
) -> None:
    choices, settings = layered(tmp_path, BUDGETS[budget], top, dict(VALUES))
    recipe = resolve_recipe(choices, settings)
    expected = VALUES.get(top, getattr(Budget(), budget))
    assert getattr(recipe.budget, budget) == expected
    assert recipe.origins[f"budget.{budget}"] == ORIGIN[top]


MODELS = {
    "argument": "openai:from-flag",
    "profile": "openai:from-profile",
    "environment": "openai:from-env",
    "config file": "openai:from-file",
}


@pytest.mark.parametrize("top", LAYERS)
def test_the_model_comes_from_the_highest_layer_that_sets_it(tmp_path: Path, top: str) -> None:
    choices, settings = layered(tmp_path, "model", top, dict(MODELS))
    recipe = resolve_recipe(choices, settings)
    assert recipe.model == MODELS.get(top)  # None by default: detected from the environment
    assert recipe.origins["model"] == ORIGIN[top]


def test_the_researcher_profile_keeps_its_steps_over_the_environment() -> None:
    settings = Settings.load({"AHORA_MAX_STEPS": "3"})
    assert resolve_recipe(Choices(profile="researcher"), settings).budget.steps == 24
    flagged = Choices(profile="researcher", max_steps=3)
    assert resolve_recipe(flagged, settings).budget.steps == 3
    assert resolve_recipe(Choices(), settings).budget.steps == 3  # no profile: the environment


def test_tools_and_approvals_follow_the_same_precedence(tmp_path: Path) -> None:
    path = write_profile(tmp_path, tools=["clock", "read_page"], approval=["read_page"])
    from_profile = resolve_recipe(Choices(profile=str(path)), Settings())
    assert from_profile.tools == ("clock", "read_page")
    assert from_profile.approvals == ("read_page",)
    assert from_profile.origins["tools"] == "profile"
    # Choosing the tools keeps the profile's approvals only for the tools kept.
    narrowed = resolve_recipe(Choices(profile=str(path), tools=["clock"]), Settings())
    assert narrowed.tools == ("clock",) and narrowed.approvals == ()
    assert narrowed.origins["tools"] == "argument"
    nothing = resolve_recipe(Choices(), Settings())
    assert nothing.tools is None and nothing.approvals == () and nothing.instructions is None


def test_instructions_are_added_after_the_profiles(tmp_path: Path) -> None:
    path = write_profile(tmp_path)
    recipe = resolve_recipe(Choices(profile=str(path), instructions="Be brief."), Settings())
    assert recipe.instructions == "Be useful.\n\nBe brief."


def test_the_recipe_is_frozen_and_rebuilt_with_replace() -> None:
    choices = Choices(profile="researcher")
    recipe = resolve_recipe(choices, Settings())
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.model = "openai:x"  # type: ignore[misc]
    switched = resolve_recipe(dataclasses.replace(choices, model="openai:other"), Settings())
    assert switched.model == "openai:other" and switched.budget.steps == 24


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        (Choices(max_steps=0), "max_steps must be a whole number"),
        (Choices(max_tokens=-5), "max_tokens must be a whole number"),
        (Choices(max_cost=0), "max_cost must be a positive number"),
        (Choices(timeout=-1.0), "timeout must be a positive number"),
    ],
)
def test_a_budget_that_is_not_positive_is_refused(budget: Choices, message: str) -> None:
    with pytest.raises(InvalidSettings, match=message):
        resolve_recipe(budget, Settings())


@pytest.mark.parametrize(("key", "value"), [("max_tokens", 0), ("max_cost", "cheap")])
def test_a_profile_budget_of_the_wrong_kind_names_the_file(
    tmp_path: Path, key: str, value: object
) -> None:
    path = write_profile(tmp_path, **{key: value})
    with pytest.raises(InvalidProfile, match=rf"p\.toml: field '{key}'"):
        resolve_recipe(Choices(profile=str(path)), Settings())


def test_tools_given_as_a_bare_string_are_refused() -> None:
    with pytest.raises(InvalidTool, match="must be a list"):
        resolve_recipe(Choices(tools="clock"), Settings())  # type: ignore[arg-type]


def test_config_show_agent_names_the_layer_of_each_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ahora.cli.main import app

    config = tmp_path / "config.toml"
    config.write_text("max_tokens = 9000\n")
    monkeypatch.setenv("AHORA_CONFIG", str(config))
    monkeypatch.setenv("AHORA_MAX_STEPS", "3")
    monkeypatch.setenv("AHORA_TIMEOUT", "30")
    result = CliRunner().invoke(app, ["config", "show", "--agent", "researcher"])
    assert result.exit_code == 0, result.output
    recipe = result.stdout.split("# agent researcher", 1)[1]
    rows = {line.split("=")[0].strip("# ").strip(): line for line in recipe.splitlines()[1:]}
    assert rows["max_steps"].split() == ["max_steps", "=", "24", "#", "profile", "researcher"]
    assert rows["max_tokens"].split() == ["max_tokens", "=", "9000", "#", "config", "file"]
    assert rows["timeout"].split() == ["timeout", "=", "30.0", "#", "environment"]
    assert rows["max_cost"].endswith("# not set (default)")
    assert 'tools = ["web_search", "read_page"]' in rows["tools"]


def test_config_show_agent_reports_a_missing_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahora.cli.main import app

    result = CliRunner().invoke(app, ["config", "show", "--agent", "sommelier"])
    assert result.exit_code == 2
    assert "no profile named 'sommelier'" in result.output
