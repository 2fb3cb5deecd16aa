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
    with SearXNGServer() as srv:
        agent = agent_calling(
            "web_search",
            {"query": "ahora"},
            Settings(searxng_url=srv.url, search_backend="searxng", search_cache_seconds=0),
        )
        text = tool_texts(agent.ask("search").messages)[0]
    assert "ahora - result 1" in text
    assert len(srv.requests) == 1


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

    for made in available_tools(Settings()).values():
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
