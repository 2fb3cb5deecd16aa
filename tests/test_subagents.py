"""Agents that call agents: one budget, sources that flow up, no cycles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from ahora import Agent
from ahora.errors import InvalidProfile, InvalidTool
from ahora.messages import source
from ahora.settings import get_settings
from ahora.testing import ScriptedChatModel, tool_call, tool_calls

PAGE = "https://news.example/today"
ZONES = ["UTC", "Asia/Tokyo", "Europe/Madrid", "America/Lima", "Africa/Cairo", "Asia/Dubai"]


@tool(response_format="content_and_artifact")
def headlines() -> tuple[str, dict[str, Any]]:
    """Today's headlines."""
    return "Rain in Lima.", {"sources": [source(PAGE, "News today")]}


def question_of(messages: list[Any]) -> str:
    return str(next(m for m in reversed(messages) if isinstance(m, HumanMessage)).content)


def researcher_and_boss(boss_steps: int = 12, sub_steps: int = 12) -> tuple[Agent, Any]:
    """A boss that hands the question to a researcher, which reads the headlines."""

    def sub(messages: list[Any], tools: list[Any]) -> Any:
        if any(isinstance(m, ToolMessage) for m in messages) or not tools:
            return "Lima: rain today (News today)."
        return tool_call("headlines", {})

    def boss(messages: list[Any], tools: list[Any]) -> Any:
        if any(isinstance(m, ToolMessage) for m in messages) or not tools:
            return "The researcher says: rain in Lima."
        return tool_call("researcher", {"task": "What is the weather news for Lima today?"})

    sub_model = ScriptedChatModel(replies=[sub] * 20)
    researcher = Agent(sub_model, [headlines], max_steps=sub_steps).as_tool(
        "researcher", "Finds and reads sources for one question."
    )
    boss_model = ScriptedChatModel(replies=[boss] * 20)
    return Agent(boss_model, [researcher], max_steps=boss_steps), (boss_model, sub_model)


def test_a_sub_agents_answer_and_sources_reach_the_caller() -> None:
    agent, (boss_model, sub_model) = researcher_and_boss()
    answer = agent.ask("Weather news for Lima?")
    assert answer.text == "The researcher says: rain in Lima."
    assert [s["url"] for s in answer.sources] == [PAGE]  # flowed up, with fetched_at
    assert answer.sources[0]["fetched_at"]
    # The sub-agent got the task alone, and its answer came back fenced as data.
    assert question_of(sub_model.requests[0]) == "What is the weather news for Lima today?"
    result = [m for m in boss_model.requests[-1] if isinstance(m, ToolMessage)][-1]
    assert str(result.content).startswith("<tool_output") and "rain today" in str(result.content)
    # One budget: the sub-agent's two calls count in the caller's steps.
    assert answer.steps == 2 + 2


def test_the_callers_budget_stops_a_sub_agent_that_wants_more() -> None:
    def greedy(messages: list[Any], tools: list[Any]) -> Any:
        done = sum(isinstance(m, ToolMessage) for m in messages)
        if not tools:
            return f"Stopped after {done} clocks."
        return tool_call("clock", {"timezone": ZONES[done % len(ZONES)]})

    def boss(messages: list[Any], tools: list[Any]) -> Any:
        if any(isinstance(m, ToolMessage) for m in messages) or not tools:
            return "Done with what the clock agent found."
        return tool_call("clocks", {"task": "Tell the time in many places."})

    sub_model = ScriptedChatModel(replies=[greedy] * 30)
    clocks = Agent(sub_model, ["clock"], max_steps=10).as_tool("clocks", "Tells times.")
    boss_model = ScriptedChatModel(replies=[boss] * 10)
    answer = Agent(boss_model, [clocks], max_steps=4).ask("Times?")
    # 4 steps in all: the boss's call, the sub-agent's 2 (4 less the boss's call and the
    # boss's answer), the boss's answer; the sub-agent landed, and so did the boss.
    assert sub_model.calls == 2
    assert boss_model.calls == 2
    assert answer.steps == 4
    note = [m for m in boss_model.requests[-1] if isinstance(m, ToolMessage)][-1]
    assert "stopped early" in str(note.content)


def test_a_sub_agent_never_gets_a_looser_budget_than_its_own() -> None:
    agent, (_boss, sub_model) = researcher_and_boss(boss_steps=50, sub_steps=1)
    agent.ask("Weather news for Lima?")
    assert sub_model.calls == 1  # its own max_steps=1, though the caller had 50


def test_an_agent_in_tools_is_called_as_a_tool() -> None:
    sub = Agent(ScriptedChatModel(replies=["It is noon."]), [], profile=None)
    with pytest.raises(InvalidTool, match="needs a name"):
        Agent(ScriptedChatModel(replies=["x"]), [sub])
    named = sub.as_tool("timekeeper", "Knows the time.")
    boss = ScriptedChatModel(replies=[tool_call("timekeeper", {"task": "time?"}), "Noon."])
    answer = Agent(boss, [named]).ask("What time is it?")
    assert answer.text == "Noon."
    assert [c["name"] for c in answer.tool_calls] == ["timekeeper"]


async def test_async_callers_await_their_sub_agents() -> None:
    agent, _models = researcher_and_boss()
    answer = await agent.aask("Weather news for Lima?")
    assert [s["url"] for s in answer.sources] == [PAGE]


# -- profiles that call profiles ---------------------------------------------------------------

PROFILE = """
name = "{name}"
description = "{name} does its part of the work."
instructions = "Do your part as {name}."
tools = {tools}
"""


def write_profiles(home: Path, **tools: list[str]) -> None:
    folder = home / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    for name, listed in tools.items():
        quoted = "[" + ", ".join(f'"{t}"' for t in listed) + "]"
        (folder / f"{name}.toml").write_text(PROFILE.format(name=name, tools=quoted))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AHORA_HOME", str(tmp_path))
    return tmp_path


def test_a_profile_hands_work_to_another_as_agent_name(home: Path) -> None:
    write_profiles(home, boss=["agent:helper"], helper=["clock"])

    def rule(messages: list[Any], tools: list[Any]) -> Any:
        names = {t["function"]["name"] if "function" in t else t.get("name") for t in tools}
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return f"Done: {str(last.content)[:60]}"
        if "helper" in names:
            return tool_call("helper", {"task": "What time is it in UTC?"})
        return tool_call("clock", {"timezone": "UTC"})

    model = ScriptedChatModel(replies=[rule] * 10)
    answer = Agent(model, profile="boss").ask("Time?")
    assert [c["name"] for c in answer.tool_calls] == ["helper"]
    assert answer.steps == 1 + 2 + 1  # the helper's clock call and answer count too


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ({"a": ["agent:b"], "b": ["agent:a"]}, "cycle: a -> b -> a"),
        ({"a": ["agent:a"]}, "cycle: a -> a"),
        (
            {"a": ["agent:b"], "b": ["agent:c"], "c": ["agent:d"], "d": ["clock"]},
            "deeper than 3: a -> b -> c -> d",
        ),
        ({"a": ["agent:nobody"]}, "no profile named 'nobody'"),
    ],
)
def test_cycles_depth_and_unknown_agents_are_refused_when_profiles_load(
    home: Path, profiles: dict[str, list[str]], message: str
) -> None:
    from ahora.profiles import load_profile

    write_profiles(home, **profiles)
    with pytest.raises(InvalidProfile, match=message.replace("(", r"\(")):
        load_profile("a", settings=get_settings())


def test_the_cli_refuses_a_cycle_before_any_model_call(home: Path) -> None:
    write_profiles(home, a=["agent:b"], b=["agent:a"])
    env = {
        **os.environ,
        "AHORA_HOME": str(home),
        "AHORA_MODEL": "openai:m",
        "OPENAI_API_KEY": "x",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ahora", "ask", "--agent", "a", "hi"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert "a -> b -> a" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_sub_agents_spent_steps_are_counted_from_the_messages() -> None:
    from ahora.messages import SUBRUN, run_stats

    messages = [
        HumanMessage("q"),
        AIMessage("", tool_calls=[{"name": "r", "args": {}, "id": "1"}]),
        ToolMessage("a", tool_call_id="1", artifact={SUBRUN: {"steps": 5, "tokens": 70}}),
    ]
    stats = run_stats(messages)
    assert (stats.steps, stats.tokens) == (6, 70)


# -- approvals inside a sub-agent ---------------------------------------------------------------


def gated_pair() -> tuple[Agent, ScriptedChatModel]:
    def sub(messages: list[Any], tools: list[Any]) -> Any:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if results:
            return f"Clock said: {str(results[-1].content)[:80]}"
        return tool_call("clock", {"timezone": "UTC"})

    def boss(messages: list[Any], tools: list[Any]) -> Any:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if results:
            return f"Boss: {str(results[-1].content)[:200]}"
        return tool_call("timer", {"task": "What time is it in UTC?"})

    sub_model = ScriptedChatModel(replies=[sub] * 10)
    timer = Agent(sub_model, ["clock"], approvals=["clock"]).as_tool("timer", "Tells the time.")
    return Agent(ScriptedChatModel(replies=[boss] * 10), [timer]), sub_model


@pytest.mark.parametrize("approve", [True, False])
def test_a_gated_tool_inside_a_sub_agent_asks_the_callers_human(approve: bool) -> None:
    agent, sub_model = gated_pair()
    paused = agent.ask("Time?")
    assert [p["name"] for p in paused.pending] == ["clock"]  # the sub-agent's call, asked here
    assert paused.pending[0]["args"] == {"timezone": "UTC"}
    done = agent.resume(paused.thread_id or "", approve=approve)
    assert not done.pending
    assert done.text.startswith("Boss:")
    ran = any(
        isinstance(m, ToolMessage) and "UTC" in str(m.content) and m.name == "clock"
        for m in sub_model.requests[-1]
    )
    assert ran is approve
    assert sub_model.calls == 2  # the sub-agent was resumed, not asked again from the start


async def test_async_callers_answer_a_sub_agents_approval_too() -> None:
    agent, _sub = gated_pair()
    paused = await agent.aask("Time?")
    assert [p["name"] for p in paused.pending] == ["clock"]
    done = await agent.aresume(paused.thread_id or "", approve=True)
    assert done.text.startswith("Boss:") and not done.pending


def test_a_run_killed_inside_a_sub_agent_resumes_without_redoing_its_steps(
    tmp_path: Path,
) -> None:
    """The sub-run is saved with the caller's store: after kill -9 inside the sub-agent,
    ``resume`` goes on from the sub-agent's last step (its lookup is not done again)."""
    script = Path(__file__).parent / "fixtures" / "subagent_crash.py"
    db, log = tmp_path / "threads.sqlite", tmp_path / "lookups.log"
    env = {**os.environ, "AHORA_HOME": str(tmp_path / "home")}
    crashing = subprocess.Popen(
        [sys.executable, str(script), str(db), str(log), "crash"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        stuck = Path(str(log) + ".stuck")
        for _ in range(600):
            if stuck.exists() or crashing.poll() is not None:
                break
            time.sleep(0.05)
        assert stuck.exists(), crashing.stderr.read().decode() if crashing.stderr else ""
        crashing.kill()
    finally:
        crashing.wait(timeout=10)
        if crashing.stderr:
            crashing.stderr.close()
    done = subprocess.run(
        [sys.executable, str(script), str(db), str(log), "resume"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert log.read_text().split() == ["atlas"]  # looked up once, before the kill
    assert out["boss_calls"] == 1 and out["sub_calls"] == 1  # only what was left
    # The sub-agent went on with its finished lookup in view, not from its task again.
    assert out["sub_sent"] == [["SystemMessage", "HumanMessage", "AIMessage", "ToolMessage"]]
    answer = out["answer"]
    assert answer["answer"].startswith("Boss:") and "shelf 3" in answer["answer"]
    [delegated] = [c["subagent"] for c in answer["tool_calls"] if "subagent" in c]
    assert delegated["agent"] == "finder" and delegated["tool_calls"] == [
        {"name": "lookup", "args": {"item": "atlas"}}
    ]
    assert delegated["thread"].startswith("library/subagent:")
    assert answer["steps"] == 2 + 2  # the boss's two calls and the sub-agent's two


def _names(events: list[Any]) -> list[str]:
    from ahora.events import SubagentEvent

    out = []
    for e in events:
        if isinstance(e, SubagentEvent):
            inner = e.innermost
            out.append(f"{'/'.join(e.path)}:{type(inner).__name__}")
        else:
            out.append(type(e).__name__)
    return out


def _without_tokens(names: list[str]) -> list[str]:
    return [n for n in names if not n.endswith("Token") and not n.endswith("UsageReported")]


NESTED_ORDER = [
    "StepStarted",
    "ToolCalled",  # the boss calls the researcher ...
    "researcher:StepStarted",  # ... whose steps arrive while that call runs
    "researcher:ToolCalled",
    "researcher:ToolFinished",
    "researcher:StepStarted",
    "ToolFinished",  # then the researcher's answer, as the call's result
    "StepStarted",
    "Finished",
]


def test_a_sub_agents_events_arrive_nested_and_in_order() -> None:
    from ahora.events import SubagentEvent, ToolCalled, ToolFinished

    agent, _ = researcher_and_boss()
    events = list(agent.stream("Weather news for Lima?"))
    assert _without_tokens(_names(events)) == NESTED_ORDER
    call = next(e for e in events if isinstance(e, ToolCalled))
    nested = [e for e in events if isinstance(e, SubagentEvent)]
    assert {(e.agent, e.call_id, e.depth) for e in nested} == {("researcher", call.call_id, 1)}
    found = next(e.event for e in nested if isinstance(e.event, ToolFinished))
    assert found.name == "headlines" and found.sources[0]["url"] == PAGE
    # The researcher's words reach the boss as its tool result, not as the boss's text.
    assert "".join(e.text for e in events if type(e).__name__ == "Token") == (
        "The researcher says: rain in Lima."
    )


def test_async_streams_the_same_nested_events() -> None:
    import asyncio

    agent, _ = researcher_and_boss()

    async def collect() -> list[Any]:
        return [e async for e in agent.astream("Weather news for Lima?")]

    assert _without_tokens(_names(asyncio.run(collect()))) == NESTED_ORDER


def test_two_levels_of_agents_nest_two_levels_deep() -> None:
    from ahora.events import SubagentEvent

    def leaf(messages: list[Any], tools: list[Any]) -> Any:
        if any(isinstance(m, ToolMessage) for m in messages) or not tools:
            return "Leaf: rain."
        return tool_call("headlines", {})

    def middle(messages: list[Any], tools: list[Any]) -> Any:
        if any(isinstance(m, ToolMessage) for m in messages) or not tools:
            return "Middle: rain."
        return tool_call("leaf", {"task": "Read the headlines."})

    def top(messages: list[Any], tools: list[Any]) -> Any:
        if any(isinstance(m, ToolMessage) for m in messages) or not tools:
            return "Top: rain."
        return tool_call("middle", {"task": "Find the news."})

    leaf_agent = Agent(ScriptedChatModel(replies=[leaf] * 5), [headlines])
    middle_agent = Agent(
        ScriptedChatModel(replies=[middle] * 5), [leaf_agent.as_tool("leaf", "Reads.")]
    )
    agent = Agent(ScriptedChatModel(replies=[top] * 5), [middle_agent.as_tool("middle", "Finds.")])
    events = list(agent.stream("News?"))
    deep = [e for e in events if isinstance(e, SubagentEvent) and e.depth == 2]
    assert deep and all(e.path == ("middle", "leaf") for e in deep)
    assert "middle/leaf:ToolFinished" in _names(events)
    answer = events[-1].answer
    assert [s["url"] for s in answer.sources] == [PAGE]  # from two levels down
    assert answer.steps == 2 + 2 + 2
    [middle_run] = answer.subagents
    [leaf_call] = middle_run["tool_calls"]
    assert leaf_call["subagent"]["tool_calls"] == [{"name": "headlines", "args": {}}]


def test_a_notebook_shows_a_sub_agents_steps_grouped_under_its_name() -> None:
    from ahora.events import SubagentEvent, Token, ToolCalled

    call = ToolCalled("c1", "read_page", {"url": "https://a.example/<b>"})
    shown = SubagentEvent("scout", "c0", SubagentEvent("leaf", "c9", call))._repr_markdown_()
    assert shown.startswith("> > **scout › leaf** · → <code>read_page(")
    assert "<b>" not in shown  # outside text stays inert
    assert SubagentEvent("scout", "c0", Token("hello"))._repr_markdown_() == ""


def test_a_notebook_answer_lists_what_each_agent_did_nested_and_inert() -> None:
    agent, _ = researcher_and_boss()
    shown = agent.ask("Weather news for Lima?")._repr_markdown_()
    assert "**Handed to other agents**" in shown
    assert "- **researcher**: What is the weather news for Lima today? · 2 steps" in shown
    assert "  - <code>headlines({})</code>" in shown
    from ahora.answer import _subrun_lines

    hostile = {"agent": "x", "task": "<img src=x onerror=alert(1)> [a](javascript:1)"}
    [line] = _subrun_lines([hostile | {"steps": 1}], 0)
    assert "<img" not in line and "](" not in line


def test_a_build_agent_graph_delegates_as_agent_does(home: Path) -> None:
    """The graph path: the same profile, driven as a LangGraph graph, delegates, counts
    the sub-agent's steps, keeps its run in the graph's store and streams its steps."""
    from langgraph.checkpoint.memory import InMemorySaver

    from ahora import build_agent
    from ahora.events import SUBAGENT_CHUNK, event_from_data
    from ahora.messages import SUBRUN

    write_profiles(home, boss=["agent:helper"], helper=["clock"])

    def rule(messages: list[Any], tools: list[Any]) -> Any:
        names = {t["function"]["name"] if "function" in t else t.get("name") for t in tools}
        if isinstance(messages[-1], ToolMessage):
            return f"Done: {str(messages[-1].content)[:40]}"
        if "helper" in names:
            return tool_call("helper", {"task": "What time is it in UTC?"})
        return tool_call("clock", {"timezone": "UTC"})

    saver = InMemorySaver()
    graph = build_agent(ScriptedChatModel(replies=[rule] * 10), profile="boss", checkpointer=saver)
    config = {"configurable": {"thread_id": "g1"}}
    custom = []
    for mode, chunk in graph.stream(
        {"messages": [HumanMessage("Time?")]}, config, stream_mode=["custom", "values"]
    ):
        if mode == "custom":
            custom.append(event_from_data(chunk[SUBAGENT_CHUNK]))
        final = chunk
    result = next(m for m in final["messages"] if isinstance(m, ToolMessage))
    spent = result.artifact[SUBRUN]
    assert spent["agent"] == "helper" and spent["steps"] == 2
    assert spent["thread"].startswith("g1/subagent:")
    assert spent["thread"] in {c[0]["configurable"]["thread_id"] for c in saver.list(None)}
    assert [type(e.innermost).__name__ for e in custom if e is not None][:3] == [
        "StepStarted",
        "UsageReported",
        "ToolCalled",
    ]


# -- the default assistant hands research to the researcher ----------------------------------


@pytest.mark.parametrize(("caller_steps", "researcher_calls"), [(5, 3), (40, 24)])
def test_the_default_assistant_hands_research_to_the_researcher_within_its_budget(
    caller_steps: int, researcher_calls: int
) -> None:
    """``agents/assistant.toml`` lists ``agent:researcher``; the researcher runs on the
    caller's model with its own ``max_steps = 24`` tightened by what the caller has left
    (its steps less the one spent and the one kept for its answer), never loosened."""
    researcher: list[int] = []

    def rule(messages: list[Any], tools: list[Any]) -> Any:
        if "careful researcher" in str(messages[0].content):
            researcher.append(len(tools))
            if not tools:
                return "Researcher: the pages disagree."
            return tool_call("read_page", {"url": f"http://127.0.0.1:9/page/{len(researcher)}"})
        if any(isinstance(m, ToolMessage) for m in messages):
            return "The sources disagree, says the researcher."
        names = {t["function"]["name"] if "function" in t else t.get("name") for t in tools}
        assert "researcher" in names and "web_search" in names  # "*" and the researcher
        return tool_call("researcher", {"task": "Compare what the pages say about X."})

    model = ScriptedChatModel(replies=[rule] * 60)
    answer = Agent(model, profile="assistant", max_steps=caller_steps).ask("Research X")
    assert [c["name"] for c in answer.tool_calls] == ["researcher"]
    assert len(researcher) == researcher_calls
    assert researcher[-1] == 0  # it landed: its last call answered without tools
    assert answer.text == "The sources disagree, says the researcher."
    assert answer.steps == 1 + researcher_calls + 1


def test_call_ids_reused_every_turn_give_each_delegation_a_fresh_sub_run() -> None:
    """Providers that number calls per reply send ``call_0`` every turn: the second
    turn's task must not land in the first task's sub-run (nor continue it)."""

    def sub(messages: list[Any], tools: list[Any]) -> Any:
        return f"asked {sum(isinstance(m, HumanMessage) for m in messages)} time(s)"

    def boss(messages: list[Any], tools: list[Any]) -> Any:
        if isinstance(messages[-1], ToolMessage):
            return f"Boss: {messages[-1].content}"
        task = str(messages[-1].content)
        return AIMessage(
            "", tool_calls=[{"name": "helper", "args": {"task": task}, "id": "call_0"}]
        )

    sub_model = ScriptedChatModel(replies=[sub] * 6)
    helper = Agent(sub_model, []).as_tool("helper", "Helps.")
    agent = Agent(ScriptedChatModel(replies=[boss] * 6), [helper])
    first = agent.ask("first task", thread="t")
    second = agent.ask("second task", thread="t")
    assert "asked 1 time(s)" in first.text and "asked 1 time(s)" in second.text
    assert [question_of(r) for r in sub_model.requests] == ["first task", "second task"]
    assert first.subagents[0]["thread"] != second.subagents[0]["thread"]


def test_agents_called_side_by_side_split_what_the_caller_has_left() -> None:
    """Two delegations in one reply run at once and cannot see each other's spend: each
    gets half of what is left, so together they stay within the caller's budget."""

    def greedy(messages: list[Any], tools: list[Any]) -> Any:
        done = sum(isinstance(m, ToolMessage) for m in messages)
        if not tools:
            return f"Stopped after {done} clocks."
        return tool_call("clock", {"timezone": ZONES[done % len(ZONES)]})

    def boss(messages: list[Any], tools: list[Any]) -> Any:
        if any(isinstance(m, ToolMessage) for m in messages) or not tools:
            return "Done."
        return tool_calls(
            ("clocks", {"task": "Tell the time in many places."}),
            ("clocks", {"task": "Tell the time in many more places."}),
        )

    clocks = Agent(ScriptedChatModel(replies=[greedy] * 40), ["clock"], max_steps=10).as_tool(
        "clocks", "Tells the time in places."
    )
    answer = Agent(ScriptedChatModel(replies=[boss] * 5), [clocks], max_steps=9).ask("Time?")
    spent = [s["steps"] for s in answer.subagents]
    assert spent == [3, 3]  # (9 - 1 used - 1 kept for the answer) // 2 each
    assert answer.steps == 1 + 3 + 3 + 1 <= 9
    assert answer.text == "Done." and not answer.stopped_early
