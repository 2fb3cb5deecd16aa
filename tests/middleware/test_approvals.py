"""Human approval: gated tools pause the run (LangGraph interrupt) until a decision.

``Answer.pending`` lists the calls waiting; ``Agent.stream`` yields ``ApprovalRequested``;
``Agent.resume(thread, approve=...)`` continues. A rejected call is reported to the
model, which goes on without it; asking for the same call again neither asks the human
again nor runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool

from ahora import Agent
from ahora.errors import InvalidSettings, InvalidTool
from ahora.events import ApprovalRequested, Finished, ToolFinished
from ahora.testing import ScriptedChatModel, tool_call, tool_calls


class Outbox:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def tool(self) -> Any:
        def send_email(to: str) -> str:
            """Send an email."""
            self.sent.append(to)
            return f"sent to {to}"

        return send_email


def lookup(query: str) -> str:
    """Look something up (no approval needed)."""
    return f"facts about {query}"


def test_pause_then_approve_runs_the_tool() -> None:
    box = Outbox()
    model = ScriptedChatModel(replies=[tool_call("send_email", {"to": "ana@example.org"}), "Sent."])
    agent = Agent(model, [box.tool()], approvals=["send_email"])
    paused = agent.ask("email Ana")
    assert paused.pending == [{"name": "send_email", "args": {"to": "ana@example.org"}}]
    assert paused.to_dict()["pending_approvals"] == paused.pending
    assert box.sent == []
    done = agent.resume(paused.thread_id or "", approve=True)
    assert box.sent == ["ana@example.org"]
    assert done.text == "Sent." and done.pending == []


def test_rejected_call_is_reported_and_the_model_goes_on() -> None:
    box = Outbox()
    model = ScriptedChatModel(
        replies=[tool_call("send_email", {"to": "ana@example.org"}), "I did not send it."]
    )
    agent = Agent(model, [box.tool()], approvals=["send_email"])
    paused = agent.ask("email Ana")
    done = agent.resume(paused.thread_id or "", approve=False)
    assert box.sent == []
    assert done.text == "I did not send it."
    notes = [m for m in model.requests[-1] if isinstance(m, ToolMessage)]
    assert len(notes) == 1 and "declined" in str(notes[0].content)


def test_asking_again_for_a_rejected_call_is_not_asked_nor_run() -> None:
    box = Outbox()
    again = tool_call("send_email", {"to": "ana@example.org"})

    def insist(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage | str:
        return tool_calls(("send_email", {"to": "ana@example.org"})) if tools else "Not sent."

    model = ScriptedChatModel(replies=[again, insist, insist, insist])
    agent = Agent(model, [box.tool()], approvals=["send_email"])
    paused = agent.ask("email Ana")
    done = agent.resume(paused.thread_id or "", approve=False)
    assert done.pending == []  # the repeat was not put to the human
    assert box.sent == []  # nor run
    assert done.text == "Not sent." and done.stopped_early


def test_metadata_marks_a_tool_everywhere() -> None:
    @tool
    def wipe(path: str) -> str:
        """Delete a folder.

        Args:
            path: The folder.
        """
        return f"wiped {path}"

    wipe.metadata = {"requires_approval": True}
    model = ScriptedChatModel(replies=[tool_call("wipe", {"path": "/tmp/x"}), "Wiped."])
    agent = Agent(model, [wipe, lookup])
    paused = agent.ask("clean up")
    assert paused.pending == [{"name": "wipe", "args": {"path": "/tmp/x"}}]
    assert agent.resume(paused.thread_id or "", approve=True).text == "Wiped."


def test_ungated_tools_in_the_same_turn_wait_for_the_decision_then_run() -> None:
    box = Outbox()
    model = ScriptedChatModel(
        replies=[
            tool_calls(("lookup", {"query": "Ana"}), ("send_email", {"to": "ana@example.org"})),
            "Looked up, not sent.",
        ]
    )
    agent = Agent(model, [box.tool(), lookup], approvals=["send_email"])
    paused = agent.ask("go")
    assert [p["name"] for p in paused.pending] == ["send_email"]
    done = agent.resume(paused.thread_id or "", approve=False)
    results = {m.name: str(m.content) for m in done.messages if isinstance(m, ToolMessage)}
    assert "facts about Ana" in results["lookup"] and box.sent == []


def test_one_decision_per_call() -> None:
    box = Outbox()
    model = ScriptedChatModel(
        replies=[
            tool_calls(
                ("send_email", {"to": "a@example.org"}), ("send_email", {"to": "b@example.org"})
            ),
            "One sent.",
        ]
    )
    agent = Agent(model, [box.tool()], approvals=["send_email"])
    paused = agent.ask("email both")
    assert len(paused.pending) == 2
    thread = paused.thread_id or ""
    with pytest.raises(InvalidSettings, match="2 tool calls await a decision"):
        agent.resume(thread, approve=[True])
    done = agent.resume(thread, approve=[True, False])
    assert box.sent == ["a@example.org"] and done.text == "One sent."


def test_stream_yields_approval_requested_then_resumes() -> None:
    box = Outbox()
    model = ScriptedChatModel(replies=[tool_call("send_email", {"to": "ana@example.org"}), "Sent."])
    agent = Agent(model, [box.tool()], approvals=["send_email"])
    events = list(agent.stream("email Ana"))
    asks = [e for e in events if isinstance(e, ApprovalRequested)]
    assert [(a.name, a.args) for a in asks] == [("send_email", {"to": "ana@example.org"})]
    assert isinstance(events[-1], Finished)
    thread = events[-1].answer.thread_id or ""
    resumed = list(agent.stream_resume(thread, approve=True))
    assert any(isinstance(e, ToolFinished) and e.name == "send_email" for e in resumed)
    assert isinstance(resumed[-1], Finished) and resumed[-1].answer.text == "Sent."


async def test_async_pause_and_resume() -> None:
    box = Outbox()
    model = ScriptedChatModel(replies=[tool_call("send_email", {"to": "ana@example.org"}), "Sent."])
    agent = Agent(model, [box.tool()], approvals=["send_email"])
    paused = await agent.aask("email Ana")
    assert paused.pending
    done = await agent.aresume(paused.thread_id or "", approve=True)
    assert done.text == "Sent." and box.sent == ["ana@example.org"]


def test_a_paused_run_survives_a_restart(tmp_path: Path) -> None:
    """Pause with a SQLite checkpointer, then decide from a brand-new Agent."""
    from ahora.threads import open_sqlite_saver

    db = tmp_path / "threads.sqlite"
    box = Outbox()
    first = Agent(
        ScriptedChatModel(replies=[tool_call("send_email", {"to": "ana@example.org"})]),
        [box.tool()],
        approvals=["send_email"],
        checkpointer=open_sqlite_saver(db),
    )
    paused = first.ask("email Ana")
    assert paused.pending
    second = Agent(
        ScriptedChatModel(replies=["Sent after the restart."]),
        [box.tool()],
        approvals=["send_email"],
        checkpointer=open_sqlite_saver(db),
    )
    done = second.resume(paused.thread_id or "", approve=True)
    assert box.sent == ["ana@example.org"] and done.text == "Sent after the restart."


def test_approvals_must_name_real_tools() -> None:
    with pytest.raises(InvalidTool, match="send_emial"):
        Agent(ScriptedChatModel(replies=[]), [lookup], approvals=["send_emial"])
