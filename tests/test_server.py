"""The LangGraph server: the graph factory, and ``langgraph dev`` serving the agent to
``langgraph_sdk`` with the model at a loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ahora.errors import InvalidProfile
from ahora.testing.openai_server import OpenAIServer, Reply, last_message_is_tool_result
from tests.fixtures.langgraph_dev import langgraph_dev as serve
from tests.fixtures.open_meteo import OpenMeteoServer

ROOT = Path(__file__).resolve().parent.parent


async def test_factory_builds_without_a_checkpointer(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahora.server import make_graph

    monkeypatch.setenv("OPENAI_API_KEY", "test")
    config: Any = {"configurable": {"model": "openai:test-model", "tools": ["clock", "weather"]}}
    graph = await make_graph(config)
    assert graph.checkpointer is None  # the server brings its own persistence
    assert graph.name == "ahora"
    assert set(graph.nodes["tools"].bound.tools_by_name) == {"clock", "weather"}  # type: ignore[attr-defined]
    assert await make_graph(config) is graph  # built once per choice


def test_langgraph_json_names_the_factory() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"] == {"ahora": "./src/ahora/server.py:make_graph"}
    assert config["dependencies"] == ["."]


def recall_rule(body: dict[str, Any]) -> Reply:
    """Weather first; then an answer quoting the tool; later turns recall the first question."""
    if last_message_is_tool_result(body):
        first_line = str(body["messages"][-1]["content"]).splitlines()[0]
        return f"From the weather tool: {first_line}"
    questions = [m["content"] for m in body["messages"] if m["role"] == "user"]
    if len(questions) > 1:
        return f"You asked {len(questions)} questions; the first was: {questions[0]}"
    return {"tool_calls": [{"name": "weather", "arguments": {"location": "Santiago, Chile"}}]}


@pytest.fixture
def langgraph_dev(tmp_path: Path) -> Iterator[tuple[str, OpenAIServer]]:
    """``langgraph dev`` on loopback: model at a loopback OpenAI server, weather at a fixture."""
    with OpenAIServer(rule=recall_rule) as model, OpenMeteoServer() as weather:
        env = {
            "AHORA_MODEL": "openai:test-model",
            "OPENAI_API_KEY": "test",
            "OPENAI_BASE_URL": model.base_url,
            "AHORA_GEOCODING_URL": weather.url,
            "AHORA_OPEN_METEO_URL": weather.url,
        }
        with serve(tmp_path, env) as url:
            yield url, model


@pytest.mark.slow
async def test_langgraph_dev_serves_the_agent(langgraph_dev: tuple[str, OpenAIServer]) -> None:
    from langgraph_sdk import get_client

    url, model = langgraph_dev
    client = get_client(url=url)
    thread = await client.threads.create()

    final: dict[str, Any] = {}
    async for part in client.runs.stream(
        thread["thread_id"],
        "ahora",
        input={"messages": [{"role": "user", "content": "Weather in Santiago?"}]},
        stream_mode="values",
    ):
        if part.event == "values":
            final = part.data
    types = [m["type"] for m in final["messages"]]
    assert types == ["human", "ai", "tool", "ai"]
    assert final["messages"][1]["tool_calls"][0]["name"] == "weather"
    assert "Santiago" in final["messages"][2]["content"]  # the real tool ran, against the fixture
    assert final["messages"][-1]["content"].startswith("From the weather tool: ")
    assert model.requests[0]["messages"][0]["role"] == "system"  # ahora's prompt

    tokens: list[str] = []
    async for part in client.runs.stream(
        thread["thread_id"],
        "ahora",
        input={"messages": [{"role": "user", "content": "What did I ask first?"}]},
        stream_mode="messages-tuple",
    ):
        if part.event == "messages":
            chunk, _meta = part.data
            tokens.append(chunk.get("content") or "")
    answer = "You asked 2 questions; the first was: Weather in Santiago?"
    assert "".join(tokens) == answer
    assert len(tokens) > 3  # streamed piece by piece
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"] == answer


@pytest.mark.slow
def test_the_readme_sdk_example_runs_as_a_script(langgraph_dev: tuple[str, OpenAIServer]) -> None:
    url, _model = langgraph_dev
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in readme.split("```python\n")[1:] if "langgraph_sdk" in b)
    script = block.split("```", 1)[0].replace("http://127.0.0.1:2024", url)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "updates" in done.stdout and "'weather'" in done.stdout


@pytest.mark.parametrize("profile", ["../../etc/passwd.toml", "/tmp/x.toml", "a b", "chef.toml"])
def test_server_accepts_profile_names_only(profile: str) -> None:
    from ahora.server import _choice

    with pytest.raises(InvalidProfile, match="not a path"):
        _choice({"profile": profile})
    assert _choice({"profile": "chef"})[2] == "chef"


SHOUT = '''
from langchain_core.tools import tool


@tool
def shout(text: str) -> str:
    """Say it louder.

    Args:
        text: What to say.
    """
    return text.upper()
'''


def _profile(home: Path, name: str, tools: str) -> None:
    folder = home / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text(
        f'name = "{name}"\ndescription = "{name}."\ninstructions = "Work."\ntools = {tools}\n'
    )


def test_the_server_offers_agents_whose_tools_it_serves(
    isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``agent:researcher`` only searches and reads: served. An agent that would reach a
    local tool file the operator did not name (itself, or through ``*``, or through an
    agent it calls) is not, whether a client or a profile asks for it."""
    from ahora.errors import InvalidTool
    from ahora.server import _graph, served_tools
    from ahora.settings import get_settings
    from ahora.tools import BUILTIN_TOOL_NAMES

    folder = tmp_path / "local-tools"
    folder.mkdir()
    (folder / "shout.py").write_text(SHOUT)
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(folder))
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    _profile(isolated_env, "loud", '["shout"]')
    _profile(isolated_env, "wide", '["*"]')
    _profile(isolated_env, "relay", '["clock", "agent:loud"]')
    _profile(isolated_env, "boss_of_loud", '["agent:relay"]')
    served = served_tools(get_settings())
    assert [t for t in served if not t.startswith("agent:")] == list(BUILTIN_TOOL_NAMES)
    agents = {t for t in served if t.startswith("agent:")}
    assert {"agent:researcher", "agent:chef", "agent:weather"} <= agents
    assert not agents & {"agent:loud", "agent:wide", "agent:relay", "agent:assistant"}

    model = "openai:test-model"
    graph = _graph(model, ("clock", "agent:researcher"), None)
    assert set(graph.nodes["tools"].bound.tools_by_name) == {"clock", "researcher"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidTool, match="does not offer 'agent:loud'"):
        _graph(model, ("agent:loud",), None)
    with pytest.raises(InvalidTool, match="does not offer 'agent:relay'"):
        _graph(model, None, "boss_of_loud")
    # The default assistant: "*" is the served set here, and the researcher beside it.
    monkeypatch.delenv("AHORA_TOOLS_DIR")
    graph = _graph(model, None, "assistant")
    tools = list(graph.nodes["tools"].bound.tools_by_name)  # type: ignore[attr-defined]
    assert tools == [*BUILTIN_TOOL_NAMES, "researcher"]
    # The operator names the local tool: now its agents are served too.
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(folder))
    monkeypatch.setenv("AHORA_SERVER_TOOLS", "shout")
    served = served_tools(get_settings())
    assert {"shout", "agent:loud", "agent:wide", "agent:relay"} <= set(served)


# -- a gated tool inside a sub-agent, through langgraph dev ------------------------------------


@pytest.mark.slow
def test_langgraph_dev_pauses_for_a_sub_agents_gated_tool_and_resumes(tmp_path: Path) -> None:
    """``boss`` calls ``agent:worker``, whose weather call needs approval. Through the
    server the boss's run pauses with the worker's call in ``get_state``; resuming with
    the decision runs the call exactly once (approve) or never (reject), and the boss's
    answer arrives. The profile comes from an assistant's config, or from each run's."""
    import asyncio

    from tests.cli.test_approvals_cli import BOSS, WORKER, boss_and_worker

    home = tmp_path / "home"
    (home / "agents").mkdir(parents=True)
    (home / "agents" / "boss.toml").write_text(BOSS + 'tools = ["agent:worker"]\n')
    (home / "agents" / "worker.toml").write_text(WORKER)
    with OpenAIServer(rule=boss_and_worker) as model, OpenMeteoServer() as weather:
        env = {
            "AHORA_HOME": str(home),
            "AHORA_MODEL": "openai:test-model",
            "OPENAI_API_KEY": "test",
            "OPENAI_BASE_URL": model.base_url,
            "AHORA_MODEL_MAX_RETRIES": "0",
            "AHORA_GEOCODING_URL": weather.url,
            "AHORA_OPEN_METEO_URL": weather.url,
            "AHORA_ALLOW_PRIVATE_URLS": "1",
        }
        (tmp_path / "server").mkdir()
        with serve(tmp_path / "server", env) as url:
            asyncio.run(_pause_and_resume_a_sub_agent(url, weather))


async def _pause_and_resume_a_sub_agent(url: str, weather: OpenMeteoServer) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=url)
    boss = {"configurable": {"profile": "boss"}}
    assistant = (await client.assistants.create("ahora", config=boss))["assistant_id"]
    for route, decision, place in [
        ("assistant", "approve", "Santiago, Chile"),
        ("assistant", "reject", "Tokyo, Japan"),
        ("run", "approve", "London, United Kingdom"),  # a new place: nothing cached
        ("run", "reject", "New York, United States"),
        # Paused by a run whose config chose the profile, resumed without that config:
        # the default graph lacks the worker, and finds it (middleware/tool_finder.py).
        ("bare resume", "approve", "Limerick, Ireland"),
        ("bare resume", "reject", "Santiago de Cuba, Cuba"),
    ]:
        graph, config = (assistant, None) if route == "assistant" else ("ahora", boss)
        resume_config = None if route == "bare resume" else config
        question = {"messages": [{"role": "user", "content": f"Weather in {place}?"}]}
        tid = (await client.threads.create())["thread_id"]
        before = len(weather.requests_to("/v1/forecast"))
        await client.runs.wait(tid, graph, input=question, config=config)
        state = await client.threads.get_state(tid)
        assert state["next"], state  # paused
        interrupts = state.get("interrupts") or [i for t in state["tasks"] for i in t["interrupts"]]
        requests = interrupts[0]["value"]["action_requests"]
        assert [(r["name"], r["args"]) for r in requests] == [("weather", {"location": place})]
        assert len(weather.requests_to("/v1/forecast")) == before  # nothing ran yet
        values = await client.runs.wait(
            tid,
            graph,
            command={"resume": {"decisions": [{"type": decision}]}},
            config=resume_config,
        )
        assert isinstance(values, dict), values
        ran = len(weather.requests_to("/v1/forecast")) - before
        answer = values["messages"][-1]["content"]
        if decision == "approve":
            assert (ran, answer) == (1, f"Boss: Worker: 21 °C in {place}."), (route, values)
        else:
            assert (ran, answer) == (0, "Boss: Worker: the lookup was declined."), (route, values)
        assert not (await client.threads.get_state(tid))["next"]  # finished
