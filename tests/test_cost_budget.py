"""The cost budget: known prices turn token usage into dollars, and a run that reaches
``max_cost`` lands with a partial answer; unknown prices never invent a cost."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from ahora import Agent
from ahora.errors import InvalidSettings
from ahora.pricing import call_cost, price_of
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel


@tool
def lookup(q: str) -> str:
    """Look something up."""
    return f"result for {q}"


def _expensive_call(i: int) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": "lookup", "args": {"q": f"q{i}"}, "id": f"c{i}", "type": "tool_call"}],
        usage_metadata={"input_tokens": 100_000, "output_tokens": 0, "total_tokens": 100_000},
    )


def test_prices_match_dated_snapshots_and_config_overrides() -> None:
    assert price_of("openai:gpt-4.1-mini-2025-04-14") == (0.40, 1.60)
    assert price_of("claude-sonnet-4-5-20250929") == (3.00, 15.00)
    assert price_of("gpt-4o-audio-preview") is None  # a variant, not a snapshot
    assert price_of("my-local-model") is None
    assert price_of("my-local-model", {"my-local-model": (0.0, 0.0)}) == (0.0, 0.0)
    assert call_cost("gpt-4.1-mini", 1_000_000, 1_000_000) == pytest.approx(2.0)


def test_run_lands_when_the_cost_budget_is_used_up() -> None:
    model = ScriptedChatModel(
        replies=[_expensive_call(i) for i in range(5)], model_name="gpt-4.1-mini"
    )
    answer = Agent(model, [lookup], max_cost=0.05).ask("dig")
    # each call costs $0.04: after two calls ($0.08) the third is the last, without tools
    assert answer.stopped_early and answer.stop_reason == "the cost budget of $0.05 is used up"
    assert model.calls == 3
    assert answer.cost_usd == pytest.approx(0.12)


def test_unknown_prices_mean_unknown_cost_not_a_guess() -> None:
    model = ScriptedChatModel(replies=[_expensive_call(0), "done"], model_name="mystery")
    answer = Agent(model, [lookup], max_cost=0.01).ask("dig")
    assert answer.text == "done" and not answer.stopped_early
    assert answer.cost_usd is None


def test_config_prices_and_bad_values(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('max_cost = 0.5\n[prices]\n"mystery" = [1.0, 2.0]\n')
    s = Settings.load({}, config_file=config)
    assert s.max_cost == 0.5 and s.prices == {"mystery": (1.0, 2.0)}
    model = ScriptedChatModel(replies=[_expensive_call(0), "done"], model_name="mystery")
    # $0.10 for the first call, plus the scripted answer's estimated few tokens
    assert Agent(model, [lookup], settings=s).ask("dig").cost_usd == pytest.approx(0.1, abs=0.001)
    config.write_text('[prices]\n"mystery" = "cheap"\n')
    with pytest.raises(InvalidSettings, match="prices"):
        Settings.load({}, config_file=config)
    with pytest.raises(InvalidSettings, match="max_cost"):
        Agent(ScriptedChatModel(replies=[]), [lookup], max_cost=0)


def test_a_call_without_reported_usage_makes_the_cost_unknown() -> None:
    from langchain_core.messages import HumanMessage

    from ahora.middleware.budget import run_stats

    priced = AIMessage(
        content="", usage_metadata={"input_tokens": 10, "output_tokens": 1, "total_tokens": 11}
    )
    silent = AIMessage(content="done")  # the provider reported no usage
    messages = [HumanMessage("q"), priced]
    assert run_stats(messages, default_model="gpt-4.1-mini").cost is not None
    assert run_stats([*messages, silent], default_model="gpt-4.1-mini").cost is None
