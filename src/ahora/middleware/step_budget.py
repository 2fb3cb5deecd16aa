"""Land gracefully at the step budget instead of raising.

LangChain's ``create_agent`` stops a runaway loop with ``GraphRecursionError`` (and
``ModelCallLimitMiddleware`` with an error or a canned message). Here the last allowed
model call is made *without tools* and told to answer from what was gathered and to
say it stopped early, so the caller always gets an answer built from the work done.

The count is derived, not stored: model calls in this run are the AI messages after
the last human message. That keeps the middleware stateless and adds no graph nodes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

STOPPED_EARLY = "ahora_stopped_early"

_FINAL_NOTE = (
    "STEP BUDGET REACHED: this is your last turn ({limit} model calls). You cannot call "
    "tools any more. Answer the user now from the tool results above, in the user's "
    "language. Say plainly that you stopped early because of the step budget, and what is "
    "still missing or uncertain."
)


def steps_this_run(messages: Sequence[BaseMessage]) -> int:
    """Model calls made since the user's last message."""
    count = 0
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage):
            count += 1
    return count


def without_tool_calls(message: AIMessage, *, fallback: str) -> AIMessage:
    """The same reply with any tool calls removed (a last turn must not call tools)."""
    if not message.tool_calls and not message.invalid_tool_calls:
        answer = message
    else:
        kwargs = {k: v for k, v in message.additional_kwargs.items() if k != "tool_calls"}
        answer = AIMessage(
            content=message.content or fallback,
            id=message.id,
            additional_kwargs=kwargs,
            response_metadata=message.response_metadata,
            usage_metadata=message.usage_metadata,
        )
    answer.response_metadata = {**answer.response_metadata, STOPPED_EARLY: True}
    return answer


class StepBudgetMiddleware(AgentMiddleware[Any, Any, Any]):
    """After ``max_steps - 1`` model calls, the next one answers without tools."""

    def __init__(self, max_steps: int) -> None:
        super().__init__()
        self.max_steps = max_steps

    def _is_last(self, request: ModelRequest[Any]) -> bool:
        return bool(request.tools) and steps_this_run(request.messages) >= self.max_steps - 1

    def _last_request(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        base = request.system_prompt or ""
        note = _FINAL_NOTE.format(limit=self.max_steps)
        return request.override(
            tools=[], tool_choice=None, system_message=SystemMessage(content=f"{base}\n\n{note}")
        )

    def _finish(self, response: ModelResponse[Any]) -> ModelResponse[Any]:
        fallback = f"I stopped after {self.max_steps} steps without reaching a complete answer."
        response.result = [
            without_tool_calls(m, fallback=fallback) if isinstance(m, AIMessage) else m
            for m in response.result
        ]
        return response

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        if not self._is_last(request):
            return handler(request)
        return self._finish(handler(self._last_request(request)))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        if not self._is_last(request):
            return await handler(request)
        return self._finish(await handler(self._last_request(request)))
