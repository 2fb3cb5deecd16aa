"""Tool calls whose arguments are not valid JSON go back to the model as errors, and a
valid call in the same message still runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

from ahora import Agent
from ahora.events import ToolCalled, ToolFinished
from ahora.testing import ScriptedChatModel
from tests.fixtures.faults import FAULTS, assert_survived


class Adder:
    def __init__(self) -> None:
        self.runs: list[tuple[int, int]] = []

    def tool(self) -> Any:
        def add(a: int, b: int) -> str:
            """Add two numbers."""
            self.runs.append((a, b))
            return f"sum {a + b}"

        return add


def mixed(raw: str = "{'a': 1, 'b': 2}", name: str | None = "add") -> AIMessage:
    """One valid call and one malformed call in the same model message."""
    return AIMessage(
        content="",
        tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "ok1", "type": "tool_call"}],
        invalid_tool_calls=[
            {"name": name, "args": raw, "id": None, "error": "bad", "type": "invalid_tool_call"}
        ],
    )


def results(messages: list[Any]) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}


def test_the_valid_call_runs_and_the_malformed_one_is_answered_with_an_error() -> None:
    adder = Adder()
    model = ScriptedChatModel(replies=[mixed(), "5, and the other call was broken."])
    answer = Agent(model, [adder.tool()]).ask("add")
    assert adder.runs == [(2, 3)]  # the valid call ran, the malformed one did not
    got = results(answer.messages)
    assert set(got) == {"ok1", "invalid_0"}
    assert got["ok1"].status == "success" and "sum 5" in str(got["ok1"].content)
    bad = got["invalid_0"]
    assert bad.status == "error"
    assert "the arguments for add were not valid JSON" in str(bad.content)
    assert "{'a': 1, 'b': 2}" in str(bad.content)
    assert answer.text == "5, and the other call was broken."
    # the caller sees the raw text of the malformed call, not the internal marker
    assert answer.tool_calls == [
        {"name": "add", "args": {"a": 2, "b": 3}},
        {"name": "add", "args": {"invalid_json": "{'a': 1, 'b': 2}"}},
    ]


def test_a_malformed_call_without_a_name_and_very_long_arguments() -> None:
    adder = Adder()
    raw = "{" + "x" * 2000
    model = ScriptedChatModel(replies=[mixed(raw, name=None), "ok"])
    answer = Agent(model, [adder.tool()]).ask("add")
    bad = results(answer.messages)["invalid_0"]
    assert bad.name == "unknown_tool" and bad.status == "error"
    assert "x" * 499 in str(bad.content) and "x" * 501 not in str(bad.content)
    assert adder.runs == [(2, 3)]


def test_the_stream_shows_both_calls_and_marks_the_malformed_one_failed() -> None:
    model = ScriptedChatModel(replies=[mixed(), "done"])
    events = list(Agent(model, [Adder().tool()]).stream("add"))
    called = [e for e in events if isinstance(e, ToolCalled)]
    finished = {e.call_id: e for e in events if isinstance(e, ToolFinished)}
    assert [c.args for c in called] == [{"a": 2, "b": 3}, {"invalid_json": "{'a': 1, 'b': 2}"}]
    assert finished["ok1"].error is None
    assert finished["invalid_0"].error and "not valid JSON" in finished["invalid_0"].error


async def test_the_async_path_repairs_too() -> None:
    adder = Adder()
    model = ScriptedChatModel(replies=[mixed(), "done"])
    answer = await Agent(model, [adder.tool()]).aask("add")
    assert adder.runs == [(2, 3)]
    bad = results(answer.messages)["invalid_0"]
    assert bad.status == "error" and "the arguments for add were not valid JSON" in str(bad.content)


def test_fault_is_survived(tmp_path: Path) -> None:
    """Malformed tool-call JSON goes back to the model."""
    assert_survived(FAULTS["malformed_tool_json"], tmp_path)


def test_a_malformed_call_keeps_its_own_id_and_empty_arguments_read_as_empty() -> None:
    bad = AIMessage(
        content="",
        invalid_tool_calls=[
            {"name": "add", "args": None, "id": "bad7", "error": None, "type": "invalid_tool_call"}
        ],
    )
    adder = Adder()
    answer = Agent(ScriptedChatModel(replies=[bad, "ok"]), [adder.tool()]).ask("add")
    message = results(answer.messages)["bad7"]
    assert message.status == "error" and adder.runs == []
    assert "the arguments for add were not valid JSON ('')" in str(message.content)
    assert answer.tool_calls == [{"name": "add", "args": {"invalid_json": ""}}]
