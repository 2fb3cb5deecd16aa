"""A scripted chat model for tests of agents.

``ScriptedChatModel`` is a LangChain chat model that plays back a script of replies,
supports ``bind_tools`` (LangChain's own fake chat models raise there), streams token
by token, and reports token usage, so an agent built on it runs its tools for real.

    model = ScriptedChatModel([
        tool_call("weather", {"location": "Santiago, Chile"}),
        "Tomorrow in Santiago: 24 °C, clear (Open-Meteo).",
    ])

A reply may also be a function of the conversation, ``(messages, tools) -> reply``,
for models that must react to what the tools returned.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

__all__ = [
    "Reply",
    "ScriptExhausted",
    "ScriptedChatModel",
    "invalid_tool_call",
    "tool_call",
    "tool_calls",
]

Reply = AIMessage | str | Callable[[list[BaseMessage], list[dict[str, Any]]], "AIMessage | str"]


class ScriptExhausted(AssertionError):
    """The model was called more times than the script has replies."""


def tool_call(name: str, args: dict[str, Any] | None = None, *, content: str = "") -> AIMessage:
    """A reply that calls one tool. Combine several with ``tool_calls(...)``."""
    return tool_calls((name, args or {}), content=content)


def tool_calls(*calls: tuple[str, dict[str, Any]], content: str = "") -> AIMessage:
    """A reply that calls several tools in one turn (they run concurrently)."""
    return AIMessage(
        content=content,
        tool_calls=[
            {"name": n, "args": a, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
            for n, a in calls
        ],
    )


def invalid_tool_call(name: str, raw_args: str) -> AIMessage:
    """A reply whose tool-call arguments are not valid JSON, as real models sometimes send."""
    return AIMessage(
        content="",
        invalid_tool_calls=[
            {
                "name": name,
                "args": raw_args,
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "error": "Malformed args.",
                "type": "invalid_tool_call",
            }
        ],
    )


class _Script:
    """Shared by a model and its ``bind_tools`` copies, so they advance together."""

    def __init__(self, replies: Sequence[Reply]) -> None:
        self.replies = list(replies)
        self.position = 0
        self.requests: list[list[BaseMessage]] = []
        self.lock = threading.Lock()
        # bind_tools bindings by the identity of the tools bound (kept alive here so
        # ids stay unique): agents bind on every model call; converting the schemas
        # each time costs more than the rest of a scripted call.
        self.bound: dict[tuple[Any, ...], tuple[list[Any], Any]] = {}

    def next(self, messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage:
        with self.lock:
            self.requests.append(list(messages))
            if self.position >= len(self.replies):
                raise ScriptExhausted(
                    f"ScriptedChatModel was called {self.position + 1} times "
                    f"but its script has {len(self.replies)} replies"
                )
            reply = self.replies[self.position]
            self.position += 1
        if callable(reply) and not isinstance(reply, AIMessage):
            reply = reply(messages, tools)
        message = AIMessage(content=reply) if isinstance(reply, str) else reply.model_copy()
        if message.usage_metadata is None:
            message.usage_metadata = _estimate_usage(messages, message)
        if not message.id:
            message.id = f"run-{uuid.uuid4().hex[:12]}"
        return message


def _estimate_usage(messages: list[BaseMessage], reply: AIMessage) -> Any:
    """About four characters a token, like the providers' rule of thumb."""
    inp = sum(len(str(m.content)) for m in messages) // 4 + 1
    out = (len(str(reply.content)) + len(json.dumps(reply.tool_calls, default=str))) // 4 + 1
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}


class ScriptedChatModel(BaseChatModel):
    """A chat model that plays back ``replies`` in order; see the module docstring."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list[Any] = Field(default_factory=list)
    """The script: AIMessages, strings, or functions of (messages, tools)."""
    model_name: str = "scripted"
    """Reported in each reply's ``response_metadata`` (usage callbacks key on it)."""
    script: Any = None

    def model_post_init(self, context: Any, /) -> None:
        if self.script is None:
            self.script = _Script(self.replies)

    @property
    def requests(self) -> list[list[BaseMessage]]:
        """Every message list the model was called with, in order."""
        return list(self.script.requests)

    @property
    def calls(self) -> int:
        return len(self.script.requests)

    @property
    def _llm_type(self) -> str:
        return "ahora-scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "ahora"
        params["ls_model_name"] = kwargs.get("model", self.model_name)
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """The model bound to the tools' schemas (a ``RunnableBinding``, like every
        LangChain chat model's); ``tool_choice`` and other keywords are kept in it."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        key = (*(id(t) for t in tools), repr(sorted(kwargs.items())))
        with self.script.lock:
            cached = self.script.bound.get(key)
        if cached is not None:
            return cached[1]  # type: ignore[no-any-return]
        bound = self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)
        with self.script.lock:
            self.script.bound[key] = (list(tools), bound)
        return bound

    def _reply(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        message: AIMessage = self.script.next(messages, list(kwargs.get("tools") or []))
        message.response_metadata.setdefault("model_name", self.model_name)
        return message

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self._reply(messages, kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._reply(messages, kwargs)
        text = message.content if isinstance(message.content, str) else ""
        pieces = [p for p in re.split(r"(\s+)", text) if p] or [""]
        for piece in pieces:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece, id=message.id))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        calls = [
            tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
            for i, c in enumerate(message.tool_calls)
        ] + [
            tool_call_chunk(
                name=c["name"], args=c["args"], id=c["id"], index=len(message.tool_calls) + i
            )
            for i, c in enumerate(message.invalid_tool_calls)
        ]
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                id=message.id,
                tool_call_chunks=calls,
                usage_metadata=message.usage_metadata,
                response_metadata=dict(message.response_metadata),
                chunk_position="last",
            )
        )
