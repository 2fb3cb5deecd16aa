"""One scenario, four paths: the CLI, ``Agent``, a ``build_agent`` graph driven
directly, and ``langgraph dev`` through ``langgraph_sdk`` behave the same.

Every path runs against the same loopback model server and the same operator
settings (the environment: a 6 s time limit, a 300-character tool output cap, the
Asia/Tokyo timezone, and a ``gated`` profile that needs approval for the calculator).
The model's rule answers by the scenario named in the question, and the outcome of a
scenario is read from what the model was sent (how many calls, whether the last one
still offered tools, the tool results it saw, the system prompt) plus whether the
run said it stopped early: all things every path must agree on.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ahora.testing.openai_server import OpenAIServer, Reply
from tests.fixtures.langgraph_dev import langgraph_dev
from tests.fixtures.open_meteo import OpenMeteoServer

pytestmark = pytest.mark.slow

OPERATOR_TIMEOUT = 6.0
SLOW_REPLY = 12.0
OUTPUT_CAP = 300
SCENARIOS = ["timelimit", "steps", "cap", "timezone", "failing_tool", "approval"]
PATHS = ["cli", "agent", "graph", "server"]

GATED_PROFILE = """
name = "gated"
description = "Calculator and clock; the calculator needs approval."
tools = ["calculator", "clock"]
approval = ["calculator"]
instructions = "Compute what you are asked."
"""


def _question(path: str, scenario: str) -> str:
    return f"[{path}] {scenario}"


def _scenario_of(body: dict[str, Any]) -> tuple[str, str]:
    first = next(str(m["content"]) for m in body["messages"] if m["role"] == "user")
    found = re.match(r"\[(\w+)\] (\w+)", first)
    assert found, first
    return found.group(1), found.group(2)


def rule(body: dict[str, Any]) -> Reply:
    """The model: what to do for each scenario; the last (tool-less) call answers."""
    _path, scenario = _scenario_of(body)
    tools_offered = bool(body.get("tools"))
    answered = any(m["role"] == "tool" for m in body["messages"])
    if not tools_offered:
        return "Landed with what I had."
    if scenario == "timelimit":
        return {"delay": SLOW_REPLY, "content": "Far too late."}
    if scenario == "steps":
        return {"tool_calls": [{"name": "clock", "arguments": {"timezone": "UTC"}}]}
    if scenario == "typed":
        return {"tool_calls": [{"name": "answer", "arguments": {"name": "Ada", "age": 36}}]}
    if answered:
        return "Done."
    calls = {
        "cap": ("weather", {"location": "Santiago, Chile"}),
        "timezone": ("clock", {}),
        "failing_tool": ("calculator", {"expression": "1/0"}),
        "approval": ("calculator", {"expression": "6*7"}),
    }
    name, args = calls[scenario]
    return {"tool_calls": [{"name": name, "arguments": args}]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The model and weather servers, and the operator's environment for every path."""
    home = tmp_path_factory.mktemp("home")
    (home / "agents").mkdir()
    (home / "agents" / "gated.toml").write_text(GATED_PROFILE)
    with OpenAIServer(rule=rule) as model, OpenMeteoServer() as weather:
        env = {
            "AHORA_HOME": str(home),
            "AHORA_MODEL": "openai:test-model",
            "OPENAI_API_KEY": "test",
            "OPENAI_BASE_URL": model.base_url,
            "AHORA_MODEL_MAX_RETRIES": "0",
            "AHORA_GEOCODING_URL": weather.url,
            "AHORA_OPEN_METEO_URL": weather.url,
            "AHORA_ALLOW_PRIVATE_URLS": "1",
            "AHORA_TIMEOUT": str(OPERATOR_TIMEOUT),
            "AHORA_TOOL_OUTPUT_CHARS": str(OUTPUT_CAP),
            "AHORA_TIMEZONE": "Asia/Tokyo",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "LANGSMITH_TRACING": "false",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        yield {"model": model, "env": env, "home": home}


@pytest.fixture
def operator_env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for key, value in world["env"].items():
        monkeypatch.setenv(key, value)
    return world


@pytest.fixture(scope="module")
def server(world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``langgraph dev`` on loopback with the operator's environment."""
    with langgraph_dev(tmp_path_factory.mktemp("server"), world["env"]) as url:
        yield url


# -- running one scenario on one path ---------------------------------------------------


def run_cli(world: dict[str, Any], scenario: str) -> tuple[bool, str]:
    """``ahora ask --json``: whether the answer stopped early, and its text."""
    args = [sys.executable, "-m", "ahora", "ask", "--json"]
    if scenario == "steps":
        args += ["--max-steps", "2"]
    if scenario == "approval":
        args += ["--agent", "gated", "--yes"]
    env = {**os.environ, **world["env"]}
    done = subprocess.run(
        [*args, _question("cli", scenario)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    return bool(answer["stopped_early"]), str(answer["answer"])


def run_agent(scenario: str) -> tuple[bool, str]:
    from ahora import Agent, Budget

    if scenario == "approval":
        agent = Agent(profile="gated")
        answer = agent.ask(_question("agent", scenario))
        assert [p["name"] for p in answer.pending] == ["calculator"]
        answer = agent.resume(answer.thread_id or "", approve=True)
        return answer.stopped_early, answer.text
    agent = Agent()
    budget = Budget(steps=2, seconds=OPERATOR_TIMEOUT) if scenario == "steps" else None
    answer = agent.ask(_question("agent", scenario), budget=budget)
    return answer.stopped_early, answer.text


def _stopped(values: dict[str, Any]) -> tuple[bool, str]:
    from ahora.events import answer_from_messages

    answer = answer_from_messages(list(values["messages"]), thread_id=None, model="m", seconds=0.0)
    return answer.stopped_early, answer.text


def run_graph(scenario: str) -> tuple[bool, str]:
    """A ``build_agent`` graph, invoked as LangGraph users do: no ahora context."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from ahora import build_agent

    saver = InMemorySaver()
    profile = "gated" if scenario == "approval" else None
    graph = build_agent(profile=profile, checkpointer=saver)
    config: Any = {"configurable": {"thread_id": f"graph-{scenario}"}}
    if scenario == "steps":
        config["configurable"]["max_steps"] = 2  # a caller may tighten, never loosen
    values = graph.invoke({"messages": [("user", _question("graph", scenario))]}, config)
    if scenario == "approval":
        assert values["__interrupt__"]
        values = graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    return _stopped(values)


async def run_server(url: str, scenario: str) -> tuple[bool, str]:
    from langgraph_sdk import get_client

    client = get_client(url=url)
    thread = await client.threads.create()
    tid = thread["thread_id"]
    question = {"messages": [{"role": "user", "content": _question("server", scenario)}]}
    if scenario == "approval":
        # The run picks the gated profile in its own config; the resume does not.
        await client.runs.wait(
            tid, "ahora", input=question, config={"configurable": {"profile": "gated"}}
        )
        state = await client.threads.get_state(tid)
        assert state["next"], state  # paused, whichever config reads it
        assert state["interrupts"] or any(t.get("interrupts") for t in state["tasks"]), state
        values = await client.runs.wait(
            tid, "ahora", command={"resume": {"decisions": [{"type": "approve"}]}}
        )
    else:
        context = {"max_steps": 2} if scenario == "steps" else None
        values = await client.runs.wait(tid, "ahora", input=question, context=context)
    assert isinstance(values, dict) and "messages" in values, values
    from langchain_core.messages import convert_to_messages

    return _stopped({"messages": convert_to_messages(values["messages"])})


# -- what the model saw -------------------------------------------------------------------


def outcome(
    model: OpenAIServer, path: str, scenario: str, ended: tuple[bool, str]
) -> dict[str, Any]:
    """The path-independent outcome of one scenario: what the model was sent."""
    mine = [b for b in model.requests if _scenario_of(b) == (path, scenario)]
    assert mine, f"the model never saw [{path}] {scenario}"
    tool_results = [str(m["content"]) for m in mine[-1]["messages"] if m["role"] == "tool"]
    system = str(mine[0]["messages"][0]["content"])
    return {
        "model_calls": len(mine),
        "last_offered_tools": bool(mine[-1].get("tools")),
        "stopped_early": ended[0],
        "answer": ended[1],
        "tool_results": [_shape(t) for t in tool_results],
        "tokyo_prompt": "Asia/Tokyo" in system,
    }


def _shape(text: str) -> dict[str, Any]:
    """A tool result's shape: fenced, within the cap, an error or not, its gist."""
    body = re.sub(r"^<tool_output[^>]*>\n?|\n?</tool_output>$", "", text.strip())
    gist = "42" if "= 42" in body else "tokyo" if "+09:00" in body else ""
    return {
        "fenced": text.startswith("<tool_output"),
        "within_cap": len(body) <= OUTPUT_CAP + 200,  # the cap plus its note
        "cut": "cut by ahora's output cap" in body,
        "error": body.startswith("Error"),
        "gist": gist,
    }


EXPECTED: dict[str, dict[str, Any]] = {
    "timelimit": {"model_calls": 2, "last_offered_tools": False, "stopped_early": True},
    "steps": {"model_calls": 2, "last_offered_tools": False, "stopped_early": True},
    "cap": {"model_calls": 2, "stopped_early": False},
    "timezone": {"model_calls": 2, "stopped_early": False},
    "failing_tool": {"model_calls": 2, "stopped_early": False},
    "approval": {"model_calls": 2, "stopped_early": False},
}


def test_every_path_behaves_the_same(operator_env: dict[str, Any], server: str) -> None:
    model: OpenAIServer = operator_env["model"]
    results: dict[str, dict[str, dict[str, Any]]] = {p: {} for p in PATHS}
    timings: dict[str, float] = {}
    for scenario in SCENARIOS:
        for path in PATHS:
            started = time.monotonic()
            if path == "cli":
                ended = run_cli(operator_env, scenario)
            elif path == "agent":
                ended = run_agent(scenario)
            elif path == "graph":
                ended = run_graph(scenario)
            else:
                ended = asyncio.run(run_server(server, scenario))
            timings[f"{path}:{scenario}"] = time.monotonic() - started
            results[path][scenario] = outcome(model, path, scenario, ended)

    for scenario in SCENARIOS:
        seen = {path: results[path][scenario] for path in PATHS}
        first = seen["agent"]
        for path, got in seen.items():
            assert got == first, f"{scenario}: {path} differs from agent:\n{got}\n{first}"
        for key, value in EXPECTED[scenario].items():
            assert first[key] == value, (scenario, key, first)

    # What each scenario is about, on every path (equal above, so checked once).
    assert all(r["tokyo_prompt"] for p in PATHS for r in results[p].values())
    cap = results["agent"]["cap"]["tool_results"]
    assert cap and cap[0]["fenced"] and cap[0]["cut"] and cap[0]["within_cap"]
    assert results["agent"]["timezone"]["tool_results"][0]["gist"] == "tokyo"
    assert results["agent"]["failing_tool"]["tool_results"][0]["error"]
    assert results["agent"]["approval"]["tool_results"][0]["gist"] == "42"
    # The operator's time limit holds everywhere: the slow reply (12 s) was cut and
    # the tool-less last call answered (equal on every path, so checked once).
    assert results["agent"]["timelimit"]["answer"] == "Landed with what I had."
    print("seconds per path and scenario:", {k: round(v, 1) for k, v in timings.items()})


async def _paused_then_resumed(url: str, assistant: str, config: Any, path: str) -> list[Any]:
    """Ask the approval scenario, check the pause reads back, resume with no config."""
    from langgraph_sdk import get_client

    client = get_client(url=url)
    tid = (await client.threads.create())["thread_id"]
    question = {"messages": [{"role": "user", "content": _question(path, "approval")}]}
    await client.runs.wait(tid, assistant, input=question, config=config)
    state = await client.threads.get_state(tid)
    assert state["next"] == ["tools"] or state["next"], state
    interrupts = state.get("interrupts") or [i for t in state["tasks"] for i in t["interrupts"]]
    requests = interrupts[0]["value"]["action_requests"]
    assert [r["name"] for r in requests] == ["calculator"]
    values = await client.runs.wait(
        tid, "ahora", command={"resume": {"decisions": [{"type": "approve"}]}}
    )
    assert isinstance(values, dict)
    return list(values["messages"])


def test_a_paused_thread_reads_and_resumes_the_same_from_any_config(
    operator_env: dict[str, Any], server: str
) -> None:
    """The profile chosen by the run's config and by an assistant: both show the pause
    in ``get_state`` and both run the approved call when resumed without that config."""
    from langgraph_sdk import get_client

    async def routes() -> tuple[list[Any], list[Any]]:
        by_run = await _paused_then_resumed(
            server, "ahora", {"configurable": {"profile": "gated"}}, "runcfg"
        )
        assistant = await get_client(url=server).assistants.create(
            "ahora", config={"configurable": {"profile": "gated"}}
        )
        by_assistant = await _paused_then_resumed(
            server, assistant["assistant_id"], None, "assistant"
        )
        return by_run, by_assistant

    for messages in asyncio.run(routes()):
        tool = [m for m in messages if m["type"] == "tool"]
        assert len(tool) == 1 and "= 42" in tool[0]["content"], messages
        assert messages[-1]["type"] == "ai" and messages[-1]["content"] == "Done."


def test_a_client_cannot_loosen_the_operators_limits(
    operator_env: dict[str, Any], server: str
) -> None:
    from langgraph_sdk import get_client

    async def ask() -> Any:
        client = get_client(url=server)
        tid = (await client.threads.create())["thread_id"]
        question = {"messages": [{"role": "user", "content": _question("loose", "timelimit")}]}
        return await client.runs.wait(
            tid, "ahora", input=question, context={"timeout": 600, "max_steps": 500}
        )

    values = asyncio.run(ask())
    assert values["messages"][-1]["content"] == "Landed with what I had."
    mine = [b for b in operator_env["model"].requests if _scenario_of(b) == ("loose", "timelimit")]
    assert len(mine) == 2 and not mine[-1].get("tools")


def test_a_server_run_asks_for_a_typed_answer_in_its_config(
    operator_env: dict[str, Any], server: str
) -> None:
    from langgraph_sdk import get_client

    from ahora.schemas import parse_concise

    async def ask() -> Any:
        client = get_client(url=server)
        tid = (await client.threads.create())["thread_id"]
        question = {"messages": [{"role": "user", "content": _question("server", "typed")}]}
        config = {"configurable": {"output": parse_concise("name, age int")}}
        return await client.runs.wait(tid, "ahora", input=question, config=config)

    values = asyncio.run(ask())
    assert values["structured_response"] == {"name": "Ada", "age": 36}
    sent = [b for b in operator_env["model"].requests if _scenario_of(b) == ("server", "typed")]
    assert any(t["function"]["name"] == "answer" for t in sent[0]["tools"])
