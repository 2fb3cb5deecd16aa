"""``ScriptedChatModel`` is a well-behaved LangChain chat model: LangChain's standard
unit tests for chat models (``langchain-tests``), and usage seen by callbacks."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableBinding
from langchain_tests.unit_tests import ChatModelUnitTests

from ahora.testing import ScriptedChatModel, tool_call


class TestScriptedChatModelStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ScriptedChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"replies": ["hello"]}


def test_bind_tools_keeps_its_keywords_and_the_reply_sees_the_tools() -> None:
    seen: list[list[dict[str, Any]]] = []

    def reply(messages: Any, tools: list[dict[str, Any]]) -> str:
        seen.append(tools)
        return "ok"

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    model = ScriptedChatModel(replies=[reply])
    bound = model.bind_tools([add], tool_choice="any", parallel_tool_calls=False)
    assert isinstance(bound, RunnableBinding)
    assert bound.kwargs["tool_choice"] == "any" and bound.kwargs["parallel_tool_calls"] is False
    assert bound.invoke("hi").text == "ok"
    assert [t["function"]["name"] for t in seen[0]] == ["add"]
    assert model.bind_tools([add], tool_choice="any", parallel_tool_calls=False) is bound


def test_usage_callbacks_see_the_usage() -> None:
    model = ScriptedChatModel(replies=[tool_call("add", {"a": 1}), "two"], model_name="m1")
    with get_usage_metadata_callback() as cb:
        model.invoke("one")
        list(model.stream("two"))
    assert set(cb.usage_metadata) == {"m1"}
    assert cb.usage_metadata["m1"]["input_tokens"] > 0
    assert cb.usage_metadata["m1"]["output_tokens"] > 0
