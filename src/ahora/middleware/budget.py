"""Land gracefully at a limit instead of raising.

LangChain's ``create_agent`` stops a runaway loop with ``GraphRecursionError`` (and
``ModelCallLimitMiddleware`` with an error or a canned message). Here, when a limit
is reached, the next model call is made *without tools* and told to answer from what
was gathered and to say what is missing, so the caller always gets an answer built
from the work done. Limits per run: model calls (``max_steps``), tokens, wall-clock
time (the run context's deadline), and a loop guard: a repeated identical tool
call (see ``loop_guard``), or steps that add nothing new.

Counts are derived from the messages, not stored: this run is everything after the
user's last message. That keeps the middleware stateless and adds no graph nodes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, SystemMessage, ToolMessage

from ahora.context import context_of
from ahora.messages import OUTPUT_ERROR, STOPPED_EARLY, content_text, run_stats
from ahora.models import model_label

STALE_STEPS = 3
"""Consecutive tool steps that add no new information before the loop guard lands."""

_FINAL_NOTE = (
    "STOP: {reason}. This is your last turn and you cannot call tools any more. Answer "
    "the user now from the tool results above, in the user's language. Say plainly that "
    "you stopped early ({reason}) and what is still missing or uncertain."
)


_TYPED_NOTE = (
    "STOP: {reason}. This is your last turn: give your final answer now, in the "
    "required answer format, from the tool results above. Where something is still "
    "missing or uncertain, say so within that format."
)


def landed(response: ModelResponse[Any], reason: str) -> ModelResponse[Any]:
    """The last call's response, marked stopped early for ``reason``, with no tool call
    left to run. A typed answer that came with it is kept whole (its output-tool call is
    answered in the same response); an output tool's retry note goes with its call."""
    if response.structured_response is not None:
        for m in response.result:
            if isinstance(m, AIMessage):
                m.response_metadata = {**m.response_metadata, STOPPED_EARLY: reason}
        return response
    fallback = f"I stopped early ({reason}) before reaching a complete answer."
    # A ToolMessage here answers an output tool's call that did not validate: the
    # run lands with the attempt shown and the error kept (``OUTPUT_ERROR``).
    errors = [content_text(m.content) for m in response.result if isinstance(m, ToolMessage)]
    landed: list[Any] = []
    for m in response.result:
        if not isinstance(m, AIMessage):
            continue
        if errors and m.tool_calls and not content_text(m.content).strip():
            attempt = json.dumps(m.tool_calls[0]["args"], ensure_ascii=False)
            fallback = f"I stopped early ({reason}). My last attempt at the answer: {attempt}"
        out = without_tool_calls(m, fallback=fallback, reason=reason)
        if errors:
            error = errors[0].removeprefix("Error: ").split("\n Please fix", 1)[0].strip()
            out.response_metadata = {**out.response_metadata, OUTPUT_ERROR: error}
        landed.append(out)
    response.result = landed
    return response


def without_tool_calls(message: AIMessage, *, fallback: str, reason: str = "") -> AIMessage:
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
    answer.response_metadata = {**answer.response_metadata, STOPPED_EARLY: reason or True}
    return answer


class BudgetMiddleware(AgentMiddleware[Any, Any, Any]):
    """Makes the last call tool-less when a limit is reached; see the module docstring.

    The limits are the run's (``RunContext.budget``, ``.deadline``, the settings'
    prices); the ones given here are only defaults for a request without a context.
    """

    def __init__(
        self,
        max_steps: int,
        *,
        max_tokens: int | None = None,
        max_cost: float | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        super().__init__()
        self.max_steps = max_steps
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self.prices = prices

    def limit_reached(self, request: ModelRequest[Any]) -> str | None:
        """Why this call must be the last one, or None."""
        if not request.tools and request.response_format is None:
            return None  # a call without tools ends the run anyway
        context = context_of(request)
        prices: Mapping[str, tuple[float, float]] | None
        deadline: float | None
        if context is not None:
            steps, tokens, cost = context.budget.steps, context.budget.tokens, context.budget.cost
            prices, deadline = context.settings.prices, context.deadline
        else:
            steps, tokens, cost = self.max_steps, self.max_tokens, self.max_cost
            prices, deadline = self.prices, None
        stats = run_stats(
            request.messages,
            default_model=model_label(request.model) if cost is not None else None,
            prices=prices,
            costs=cost is not None,
        )
        if stats.steps >= steps - 1:
            calls = "model call" if steps == 1 else "model calls"
            return f"the step budget of {steps} {calls} is used up"
        if tokens is not None and stats.tokens >= tokens:
            return f"the token budget of {tokens:,} tokens is used up"
        if cost is not None and stats.cost is not None and stats.cost >= cost:
            return f"the cost budget of ${cost:g} is used up"
        if deadline is not None and time.time() >= deadline:
            return "the time limit for this answer has passed"
        if stats.repeated_call:
            return "the same tool call was asked for again"
        if stats.stale_steps >= STALE_STEPS:
            return f"the last {STALE_STEPS} tool steps added no new information"
        return None

    @staticmethod
    def _last_request(request: ModelRequest[Any], reason: str) -> ModelRequest[Any]:
        base = request.system_prompt or ""
        note = (_TYPED_NOTE if request.response_format is not None else _FINAL_NOTE).format(
            reason=reason
        )
        return request.override(
            tools=[], tool_choice=None, system_message=SystemMessage(content=f"{base}\n\n{note}")
        )

    @staticmethod
    def _finish(response: ModelResponse[Any], reason: str) -> ModelResponse[Any]:
        return landed(response, reason)

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        reason = self.limit_reached(request)
        if reason is None:
            return handler(request)
        return self._finish(handler(self._last_request(request, reason)), reason)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        reason = self.limit_reached(request)
        if reason is None:
            return await handler(request)
        return self._finish(await handler(self._last_request(request, reason)), reason)
