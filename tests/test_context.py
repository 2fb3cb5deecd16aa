"""The run context: an agent's settings reach its tools, not the environment's."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.tools import ToolRuntime
from langchain_core.messages import ToolMessage
from langchain_core.tools import tool

from ahora import Agent, RunContext, create_agent
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel, tool_call
from tests.fixtures.open_meteo import OpenMeteoServer, closed_url
from tests.fixtures.searxng import SearXNGServer


def tool_texts(messages: list[Any]) -> list[str]:
    return [str(m.content) for m in messages if isinstance(m, ToolMessage)]


def agent_calling(name: str, args: dict[str, Any], settings: Settings) -> Agent:
    model = ScriptedChatModel(replies=[tool_call(name, args), "done"])
    return Agent(model, [name], settings=settings)


def test_two_agents_in_one_process_each_tell_their_own_time() -> None:
    tokyo = agent_calling("clock", {}, Settings(timezone="Asia/Tokyo"))
    santiago = agent_calling("clock", {}, Settings(timezone="America/Santiago"))
    assert "in Asia/Tokyo" in tool_texts(tokyo.ask("time?").messages)[0]
    assert "in America/Santiago" in tool_texts(santiago.ask("time?").messages)[0]


def test_two_agents_get_the_weather_from_their_own_service_in_their_own_units(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The environment points at a dead port: only the agents' settings can work.
    monkeypatch.setenv("AHORA_GEOCODING_URL", closed_url())
    monkeypatch.setenv("AHORA_OPEN_METEO_URL", closed_url())
    with OpenMeteoServer() as metric_srv, OpenMeteoServer() as imperial_srv:
        metric = agent_calling(
            "weather",
            {"location": "Santiago, Chile"},
            Settings(geocoding_url=metric_srv.url, open_meteo_url=metric_srv.url),
        )
        imperial = agent_calling(
            "weather",
            {"location": "Santiago, Chile"},
            Settings(
                geocoding_url=imperial_srv.url, open_meteo_url=imperial_srv.url, units="imperial"
            ),
        )
        metric_text = tool_texts(metric.ask("weather?").messages)[0]
        imperial_text = tool_texts(imperial.ask("weather?").messages)[0]
        assert "Santiago" in metric_text and "°C" in metric_text
        assert "Santiago" in imperial_text and "°F" in imperial_text
        forecast = imperial_srv.requests_to("/v1/forecast")
        assert [r.params["temperature_unit"] for r in forecast] == ["fahrenheit"]
        assert len(metric_srv.requests_to("/v1/forecast")) == 1


def test_web_search_asks_the_agents_own_searxng(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_SEARXNG_URL", closed_url())
    with SearXNGServer() as first, SearXNGServer() as second:
        for srv in (first, second, first):  # the cache is per service: no crossed answers
            srv.corpus["ahora"] = [
                {"title": f"from {srv.url}", "url": "https://example.org/a", "content": "x"}
            ]
            agent = agent_calling(
                "web_search",
                {"query": "ahora"},
                Settings(searxng_url=srv.url, search_backend="searxng"),
            )
            text = tool_texts(agent.ask("search").messages)[0]
            assert f"from {srv.url}" in text
        assert len(first.requests) == 1  # its second question came from the cache
        assert len(second.requests) == 1


def test_a_graph_driven_directly_uses_the_settings_it_was_built_with() -> None:
    graph = create_agent(
        ScriptedChatModel(replies=[tool_call("clock", {}), "done"]),
        ["clock"],
        settings=Settings(timezone="Asia/Tokyo"),
    )
    out = graph.invoke({"messages": [("user", "time?")]})
    assert "in Asia/Tokyo" in tool_texts(out["messages"])[0]


def test_a_context_passed_with_the_run_wins_over_the_graphs() -> None:
    graph = create_agent(
        ScriptedChatModel(replies=[tool_call("clock", {}), "done"]),
        ["clock"],
        settings=Settings(timezone="Asia/Tokyo"),
    )
    tenant = RunContext(settings=Settings(timezone="Europe/Madrid"))
    out = graph.invoke({"messages": [("user", "time?")]}, context=tenant)
    assert "in Europe/Madrid" in tool_texts(out["messages"])[0]


def test_the_runtime_parameter_is_hidden_from_the_model() -> None:
    from ahora.tools.registry import available_tools

    for made in available_tools(settings=Settings()).values():
        assert "runtime" not in made.tool_call_schema.model_json_schema()["properties"]


def test_a_plugin_tool_reads_the_settings_from_its_runtime() -> None:
    @tool
    def units(runtime: ToolRuntime[RunContext]) -> str:
        """Say which units the user wants."""
        return runtime.context.settings.units

    assert "runtime" not in units.tool_call_schema.model_json_schema()["properties"]
    model = ScriptedChatModel(replies=[tool_call("units", {}), "done"])
    agent = Agent(model, [units], settings=Settings(units="imperial"))
    assert "imperial" in tool_texts(agent.ask("units?").messages)[0]


def test_the_timezone_argument_reaches_the_clock_too() -> None:
    agent = Agent(
        ScriptedChatModel(replies=[tool_call("clock", {}), "done"]),
        ["clock"],
        timezone="Asia/Tokyo",
        settings=Settings(timezone="Europe/Madrid"),
    )
    assert agent.settings.timezone == "Asia/Tokyo"
    assert "in Asia/Tokyo" in tool_texts(agent.ask("time?").messages)[0]
    graph = create_agent(
        ScriptedChatModel(replies=[tool_call("clock", {}), "done"]),
        ["clock"],
        timezone="Asia/Tokyo",
    )
    out = graph.invoke({"messages": [("user", "time?")]})
    assert "in Asia/Tokyo" in tool_texts(out["messages"])[0]


async def test_async_runs_carry_the_context_too() -> None:
    agent = agent_calling("clock", {}, Settings(timezone="Asia/Tokyo"))
    answer = await agent.aask("time?")
    assert "in Asia/Tokyo" in tool_texts(answer.messages)[0]


def test_the_runtime_parameter_does_not_make_tools_import_langgraph() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ahora.tools.clock, ahora.tools.weather, ahora.tools.web_search;"
        "print('langgraph' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_context_passed_with_the_run_sets_the_prompts_timezone_too() -> None:
    model = ScriptedChatModel(replies=[tool_call("clock", {}), "done"])
    graph = create_agent(model, ["clock"], settings=Settings(timezone="Asia/Tokyo"))
    tenant = RunContext(settings=Settings(timezone="Europe/Madrid"))
    out = graph.invoke({"messages": [("user", "time?")]}, context=tenant)
    assert "in Europe/Madrid" in tool_texts(out["messages"])[0]
    system = model.requests[0][0]
    assert system.type == "system" and "(Europe/Madrid, UTC" in str(system.content)


# -- a run is one value: build-time values are only defaults ---------------------------

BIG_OUTPUT = "x" * 5_000


@tool
def big() -> str:
    """Return a long text."""
    return BIG_OUTPUT


def _tool_output_length(built: int, run: int | None) -> int:
    graph = create_agent(
        ScriptedChatModel(replies=[tool_call("big", {}), "done"]),
        [big],
        settings=Settings(tool_output_chars=built),
    )
    context = None if run is None else RunContext(settings=Settings(tool_output_chars=run))
    out = graph.invoke({"messages": [("user", "go")]}, context=context)
    return len(tool_texts(out["messages"])[0])


def test_the_output_cap_is_the_runs_in_both_directions() -> None:
    assert _tool_output_length(200, None) < 600  # the graph's own cap
    assert _tool_output_length(200, 50_000) > 5_000  # the run's looser one
    assert _tool_output_length(50_000, 200) < 600  # the run's tighter one


def test_a_build_agent_graph_keeps_its_time_limit_when_invoked_directly() -> None:
    import time

    def slowly(messages: Any, tools: Any) -> str:
        time.sleep(1.0)
        return "late answer"

    def graph(timeout: float | None) -> Any:
        return create_agent(ScriptedChatModel(replies=[slowly]), [], timeout=timeout)

    out = graph(0.2).invoke({"messages": [("user", "hi")]})
    assert out["messages"][-1].content != "late answer"
    out = graph(None).invoke({"messages": [("user", "hi")]})
    assert out["messages"][-1].content == "late answer"


ZONES = ["UTC", "Asia/Tokyo", "Europe/Madrid", "America/Lima", "Africa/Cairo"]


def clock_calls() -> list[Any]:
    """Five clock calls that each ask something new (so no loop guard), then an answer."""
    return [tool_call("clock", {"timezone": z}) for z in ZONES] + ["done"]


def _model_calls(built: int, wished: int) -> int:
    graph = create_agent(ScriptedChatModel(replies=clock_calls()), ["clock"], max_steps=built)
    out = graph.invoke({"messages": [("user", "go")]}, {"configurable": {"max_steps": wished}})
    return len([m for m in out["messages"] if m.type == "ai"])


def test_a_caller_may_tighten_a_graphs_budget_in_its_config_never_loosen_it() -> None:
    assert _model_calls(built=10, wished=2) == 2
    assert _model_calls(built=2, wished=10) == 2
    assert _model_calls(built=10, wished=10) == 6  # neither limit reached: all five and done


def test_ask_takes_a_budget_for_one_call() -> None:
    from ahora import Budget

    agent = Agent(ScriptedChatModel(replies=clock_calls()), ["clock"], budget=Budget(steps=10))
    one = agent.ask("go", budget=Budget(steps=2))
    assert one.steps == 2 and one.stopped_early
    assert agent.budget == Budget(steps=10)  # the agent's own is unchanged


def test_repr_of_a_run_context_shows_its_limits() -> None:
    from ahora import Budget

    text = repr(RunContext(settings=Settings(), budget=Budget(steps=3), approvals=frozenset({"x"})))
    assert "steps=3" in text and "['x']" in text
