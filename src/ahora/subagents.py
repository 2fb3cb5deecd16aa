"""Agents that call agents: a profile (or an ``Agent``) becomes a tool with one budget.

A profile lists another among its tools as ``agent:NAME`` (``tools = ["web_search",
"agent:researcher"]``; also ``--tools agent:researcher``), and Python passes an
``Agent`` in ``tools=`` or calls ``agent.as_tool(name, description)``. The model sees
one tool, with the sub-agent's description and one ``task`` argument.

* **One budget.** The sub-agent runs with the caller's budget left (steps less one,
  kept for the caller's answer; tokens; dollars; the caller's deadline; split evenly
  among the agents one reply calls side by side), never a looser one than its own.
  What it spent rides back in its answer's artifact (``SUBRUN``) and counts in the
  caller's budget from then on (``run_stats``). When the caller's budget runs out
  inside a sub-agent, the sub-agent lands with what it gathered, and so does the
  caller.
* **Sources flow up.** The sources the sub-agent gathered come back in the artifact,
  so the caller's answer lists them (deduplicated, numbered once) with ``fetched_at``.
* **Nested steps.** The sub-agent's events reach the caller's stream as they happen,
  through LangGraph's ``custom`` stream mode, each wrapped in a ``SubagentEvent``
  (plain JSON data, so the server sends them too); what it did (its task, steps and
  tool calls, nested) rides back in the artifact for ``--json``, ``threads show`` and
  notebooks.
* **Saved with the caller.** The sub-run is kept in the caller's checkpointer (an
  agent given a store of its own keeps that), under the caller's thread, the reply
  that made the call and the call's id (``SUBRUN_THREAD``): a run whose process died
  inside it goes on from its last step when the caller's run resumes, deleting the
  caller's thread deletes it, and export can write it as its own example.
* **Approvals bubble up.** A gated tool inside the sub-agent pauses the caller's run
  with the same question the caller's own tools would ask (``Agent.resume``, the
  terminal's prompt and the server answer it alike); the decision resumes the
  sub-agent's run where it paused.
* **Safe by construction.** Profiles that call each other in a cycle, or nest deeper
  than ``MAX_DEPTH``, are refused when they load (``ahora.profiles``), before any model
  call; a sub-agent gets only its own profile's tools; its answer is tool output,
  capped and fenced as data like any other.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ahora.budget import Budget
from ahora.context import context_of
from ahora.errors import InvalidTool
from ahora.events import SUBAGENT_CHUNK, Event, Finished, SubagentEvent, event_data
from ahora.messages import SUBAGENT, SUBAGENT_RUNS, SUBRUN, SUBRUN_THREAD, run_stats
from ahora.tools._common import Runtime  # resolved by name when the tool's schema is made

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from ahora.agent import Agent
    from ahora.answer import Answer

__all__ = ["SUBAGENT", "agent_tool"]

_TASK = (
    "What to do, in full: the agent sees nothing else of this conversation, so include "
    "every detail it needs (places, dates, names, the question itself)."
)


def share(agent: Agent, runtime: Any, name: str = "") -> tuple[Budget, float | None] | str:
    """The sub-agent's budget and deadline from the caller's run (or why there is none
    left). What the caller has left is split evenly among the agents its reply called
    at once (they run side by side, so none can see what the others spend). Called
    outside any run, the sub-agent has its own."""
    caller = context_of(runtime)
    own = agent.context.budget
    if caller is None:
        return own, None
    state = getattr(runtime, "state", None) or {}
    messages = state.get("messages", []) if isinstance(state, dict) else []
    limits = caller.budget
    used = run_stats(messages, prices=caller.settings.prices, costs=limits.cost is not None)
    reply = _reply_of(runtime)
    delegates = caller.delegates | {name}
    calls = getattr(reply, "tool_calls", None) or ()
    ways = max(1, sum(c.get("name") in delegates for c in calls))
    steps = (limits.steps - used.steps - 1) // ways  # one call kept for the caller's answer
    if steps < 1:
        return "no steps are left in this run's budget for another agent: answer now"
    wish: dict[str, Any] = {"steps": steps}
    if limits.tokens is not None:
        if used.tokens >= limits.tokens:
            return "no tokens are left in this run's budget for another agent: answer now"
        wish["tokens"] = (limits.tokens - used.tokens) // ways
    if limits.cost is not None and used.cost is not None:
        if used.cost >= limits.cost:
            return "no money is left in this run's budget for another agent: answer now"
        wish["cost"] = (limits.cost - used.cost) / ways
    return own.tightened(wish), caller.deadline


def _reply_of(runtime: Any) -> Any:
    """The caller's reply that made this tool call (its last message holding the id)."""
    call_id = getattr(runtime, "tool_call_id", None)
    state = getattr(runtime, "state", None)
    messages = state.get("messages", []) if isinstance(state, dict) else []
    return next(
        (
            m
            for m in reversed(messages)
            if any(c.get("id") == call_id for c in getattr(m, "tool_calls", None) or ())
        ),
        None,
    )


def _sub_thread(runtime: Any) -> str | None:
    """The sub-agent's thread for this call: under the caller's thread, named by the
    reply that made the call and the call's id, so a paused or cut-short sub-run is
    found again when the caller's run resumes, and a call id the provider reuses in
    another reply (``call_0`` every turn) starts a sub-run of its own."""
    config = getattr(runtime, "config", None) or {}
    caller = (config.get("configurable") or {}).get("thread_id")
    call_id = getattr(runtime, "tool_call_id", None)
    if not caller or not call_id:
        return None
    reply = _reply_of(runtime)
    made_by = f"{reply.id}:" if reply is not None and reply.id else ""
    return f"{caller}{SUBRUN_THREAD}{made_by}{call_id}"


def _kept_with_caller(agent: Agent, runtime: Any) -> Agent:
    """The agent whose runs are kept in the caller's store (LangGraph hands a running
    graph's checkpointer to its nodes in the config), so a sub-run is saved, listed and
    resumed with the caller's thread; an agent given a store of its own keeps it."""
    from langgraph.constants import CONFIG_KEY_CHECKPOINTER

    config = getattr(runtime, "config", None) or {}
    saver = (config.get("configurable") or {}).get(CONFIG_KEY_CHECKPOINTER)
    return agent if saver is None else agent._kept_in(saver)


def _where(agent: Agent, thread: str | None) -> str | None:
    """Where this call's sub-run stands: "paused" for a human's decision, "cut short"
    when the process running it died (the caller's run is being resumed), else None
    (a new run)."""
    if thread is None:
        return None
    state = agent.graph.get_state({"configurable": {"thread_id": thread}})
    if state.interrupts:
        return "paused"
    return "cut short" if state.next else None


def _decided(agent: Agent, thread: str) -> list[bool]:
    """Ask the caller's human about the sub-agent's paused calls, the way the caller's
    own approvals ask (the same interrupt, so ``Agent.resume`` and the terminal answer
    it), and return the decisions: the caller's run pauses here until they come."""
    from langgraph.types import interrupt

    state = agent.graph.get_state({"configurable": {"thread_id": thread}})
    requests: list[dict[str, Any]] = []
    for intr in state.interrupts:
        value = getattr(intr, "value", None)
        if isinstance(value, dict):
            requests += list(value.get("action_requests") or [])
    review = [
        {"action_name": r.get("name", ""), "allowed_decisions": ["approve", "reject"]}
        for r in requests
    ]
    answer = interrupt({"action_requests": requests, "review_configs": review})
    decisions = (answer or {}).get("decisions") if isinstance(answer, dict) else None
    if not isinstance(decisions, list) or len(decisions) != len(requests):
        return [False] * len(requests)  # no usable decision: nothing gated runs
    return [isinstance(d, dict) and d.get("type") == "approve" for d in decisions]


class _Relay:
    """Passes the sub-agent's events on to the caller's stream as they happen (LangGraph's
    ``custom`` stream mode: a no-op when the caller is not streaming), each wrapped in a
    ``SubagentEvent`` naming this agent and the caller's call, and keeps the answer."""

    def __init__(self, name: str, runtime: Any) -> None:
        self.name = name
        self.call_id = str(getattr(runtime, "tool_call_id", None) or "")
        self.write = getattr(runtime, "stream_writer", None)

    def _send(self, event: Event) -> None:
        if self.write is not None:
            nested = SubagentEvent(self.name, self.call_id, event)
            self.write({SUBAGENT_CHUNK: event_data(nested)})

    def answer_of(self, events: Iterator[Event]) -> Answer:
        for event in events:
            if isinstance(event, Finished):
                return event.answer
            self._send(event)
        raise RuntimeError("the sub-agent's run ended without an answer")  # pragma: no cover


def _result(
    name: str, profile: str | None, task: str, answer: Answer
) -> tuple[str, dict[str, Any]]:
    from ahora.answer import jsonable

    if answer.output is not None:
        text = json.dumps(jsonable(answer.output), ensure_ascii=False)
    else:
        text = answer.text
    if answer.stopped_early:
        text = f"(The {name} agent stopped early: {answer.stop_reason}.)\n{text}"
    spent = {
        "agent": name,
        "profile": profile,  # None for an agent made in Python (export: no prompt)
        "steps": answer.steps,
        "tokens": answer.usage["input_tokens"] + answer.usage["output_tokens"],
        "input_tokens": answer.usage["input_tokens"],
        "output_tokens": answer.usage["output_tokens"],
        "cost": answer.cost_usd,
        # What the run did, for the caller's answer, ``--json`` and ``threads show``
        # (the whole conversation is kept under ``thread`` in the caller's store).
        "task": task,
        "thread": answer.thread_id,
        "tool_calls": [dict(c) for c in answer.tool_calls],  # theirs carry their sub-runs
        "stopped_early": answer.stopped_early,
    }
    return text, {"sources": list(answer.sources), SUBRUN: spent}


def agent_tool(
    agent: Agent, *, name: str | None = None, description: str | None = None
) -> BaseTool:
    """``agent`` as a tool taking one ``task``; see the module docstring."""
    from langchain_core.tools import tool

    made_for = agent
    profile = agent.recipe.profile
    name = name or (profile.name if profile is not None else None)
    if not name:
        raise InvalidTool("an agent used as a tool needs a name: agent.as_tool(name, description)")
    description = description or (profile.description if profile is not None else None)
    if not description:
        raise InvalidTool(
            f"the agent {name!r} needs a description: the model reads it to decide when "
            "to hand it work"
        )

    def call(task: str, runtime: Runtime = None) -> tuple[str, dict[str, Any]]:
        agent = _kept_with_caller(made_for, runtime)
        shared = share(agent, runtime, name)
        if isinstance(shared, str):
            return f"Error: {shared}.", {}
        budget, deadline = shared
        thread = _sub_thread(runtime)
        key = thread or str(uuid.uuid4())
        relay = _Relay(name, runtime)
        where = _where(agent, thread)
        if where == "paused":  # the caller's run resumed: its human decided
            decided = _decided(agent, key)
            events = agent.stream_resume(key, approve=decided, budget=budget, deadline=deadline)
        elif where == "cut short":  # the caller's process died in here: go on
            events = agent.stream_resume(key, budget=budget, deadline=deadline)
        else:
            events = agent.stream(task, thread=key, budget=budget, deadline=deadline)
        answer = relay.answer_of(events)
        while answer.pending and thread is not None:
            decided = _decided(agent, key)
            events = agent.stream_resume(key, approve=decided, budget=budget, deadline=deadline)
            answer = relay.answer_of(events)
        return _result(name, profile.name if profile is not None else None, task, answer)

    # No coroutine: an async caller (``ainvoke``, the LangGraph server) runs ``call`` in
    # a worker thread, where the sub-agent's store and its model may block as they like
    # (the server refuses blocking calls on its event loop, and an async-only store
    # takes sync calls only from another thread); the stream writer and ``interrupt``
    # work there as in any sync tool.
    call.__doc__ = f"{description}\n\nArgs:\n    task: {_TASK}"
    made = tool(name, response_format="content_and_artifact", parse_docstring=True)(call)
    made.description = description
    made.metadata = {**(made.metadata or {}), SUBAGENT: name, SUBAGENT_RUNS: agent}
    return made
