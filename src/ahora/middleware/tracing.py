"""Time every model and tool call, record it in the messages, and trace it.

Two wrap-only parts (so ``combine`` merges them with the rest), placed by ``traced``:

* ``TracingMiddleware``, outermost: the whole model call (retries, fallbacks, the
  budget's last call and the deadline's summary included) and the whole tool call.
  It writes ``ahora.timing`` records into the reply's and the tool result's
  ``response_metadata`` (always: a saved thread can draw its timeline later), makes
  the ``execute_tool {name}`` spans, and adds ahora's decisions (budget stop,
  deadline, loop guard, context shortened) as span events.
* ``ModelAttemptMiddleware``, innermost: each request actually sent to a model, so a
  fallback shows which model answered and which failed first; it makes the
  ``chat {model}`` spans.

With tracing off (``ahora.tracing.enabled()`` false) no span is made and
OpenTelemetry is not imported; the cost is two ``time.time()`` calls and a dict per
call. Spans follow the GenAI semantic conventions; their parent is the run's span
(``ahora.tracing.TRACE_KEY`` in the run's config) or, for a graph driven directly,
whatever span is current.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ExtendedModelResponse, ToolCallRequest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.errors import GraphBubbleUp
from langgraph.types import Command

from ahora import tracing
from ahora.messages import REPEATED_CALL, STOPPED_EARLY, content_text
from ahora.middleware.context_window import CONTEXT_KEY
from ahora.models import model_label
from ahora.pricing import call_cost
from ahora.timing import TIMING, FailedAttempt, ModelTiming, Outcome, ToolTiming

if TYPE_CHECKING:
    from opentelemetry.trace import Span

__all__ = ["ModelAttemptMiddleware", "TracingMiddleware", "provider_name", "traced"]

_NO_MODEL = "(no model: summary of the results)"


class _Attempt:
    """One request sent to a model, as the inner part saw it."""

    __slots__ = ("end", "error", "messages", "model", "start")

    def __init__(self, model: str, start: float, messages: int) -> None:
        self.model = model
        self.start = start
        self.end = start
        self.error = ""
        self.messages = messages


# The outer part puts a list here for each model call; the inner part appends to it.
# A list, not a value: the deadline runs the call in a thread with a copied context.
_ATTEMPTS: contextvars.ContextVar[list[_Attempt] | None] = contextvars.ContextVar(
    "ahora_attempts", default=None
)


def traced(stack: Sequence[AgentMiddleware[Any, Any, Any]]) -> list[AgentMiddleware[Any, Any, Any]]:
    """``stack`` with the timing and tracing parts around it and next to the model."""
    return [TracingMiddleware(), *stack, ModelAttemptMiddleware()]


def provider_name(model: Any) -> str:
    """``gen_ai.provider.name`` for a LangChain chat model."""
    module = type(model).__module__
    for package, name in (
        ("langchain_openai", "openai"),
        ("langchain_anthropic", "anthropic"),
        ("langchain_ollama", "ollama"),
        ("langchain_google", "gcp.gemini"),
        ("langchain_mistralai", "mistral_ai"),
        ("langchain_groq", "groq"),
        ("ahora.testing", "ahora.testing"),
    ):
        if module.startswith(package):
            return name
    llm_type = getattr(model, "_llm_type", None)
    return str(llm_type) if isinstance(llm_type, str) else module.split(".")[0]


def _messages(response: Any) -> list[BaseMessage]:
    result = response.model_response if isinstance(response, ExtendedModelResponse) else response
    return [result] if isinstance(result, AIMessage) else list(getattr(result, "result", []))


def _reply(response: Any) -> AIMessage | None:
    return next((m for m in _messages(response) if isinstance(m, AIMessage)), None)


def _parent() -> Any:
    """The OTel context for a new span: the run's span when ``Agent`` opened one."""
    from langgraph.config import get_config
    from opentelemetry import trace

    try:
        run = tracing.parent_span(get_config().get("configurable"))
    except RuntimeError:
        run = None
    return trace.set_span_in_context(run) if run is not None else None


def _run_span() -> Any:
    from langgraph.config import get_config
    from opentelemetry import trace

    try:
        run = tracing.parent_span(get_config().get("configurable"))
    except RuntimeError:
        run = None
    return run if run is not None else trace.get_current_span()


@contextmanager
def _span(name: str, attributes: dict[str, Any], kind: str) -> Iterator[Span]:
    """A span current for its block, child of the run's; an exception sets its error."""
    from opentelemetry.trace import SpanKind, Status, StatusCode, use_span

    span = tracing.tracer().start_span(
        name, context=_parent(), kind=SpanKind[kind], attributes=attributes
    )
    with use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        try:
            yield span
        except GraphBubbleUp:
            raise  # an interrupt is not a failure
        except BaseException as exc:
            span.record_exception(exc)
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def _as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _chat_messages(messages: Sequence[BaseMessage]) -> str:
    """Messages in the conventions' shape (role and text parts), for content capture."""
    return _as_json(
        [
            {"role": m.type, "parts": [{"type": "text", "content": content_text(m.content)}]}
            for m in messages
        ]
    )


# -- the model side ------------------------------------------------------------------


def _chat_attributes(request: ModelRequest[Any], model: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider_name(request.model),
        "gen_ai.request.model": model,
        "ahora.request.tools": len(request.tools),
    }
    if tracing.capture_content():
        attributes["gen_ai.input.messages"] = _chat_messages(request.messages)
        if request.system_prompt:
            attributes["gen_ai.system_instructions"] = _as_json(
                [{"type": "text", "content": request.system_prompt}]
            )
    return attributes


def _prices(request: ModelRequest[Any]) -> Mapping[str, tuple[float, float]] | None:
    """The run's price table (the config file's ``[prices]``), from its ``RunContext``."""
    settings = getattr(getattr(request.runtime, "context", None), "settings", None)
    return getattr(settings, "prices", None)


def _on_reply(span: Span, reply: AIMessage | None, request: ModelRequest[Any], model: str) -> None:
    if reply is None:
        return
    usage: Mapping[str, Any] = reply.usage_metadata or {}
    meta = reply.response_metadata
    tokens_in, tokens_out = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    span.set_attribute("gen_ai.usage.input_tokens", tokens_in)
    span.set_attribute("gen_ai.usage.output_tokens", tokens_out)
    cost = call_cost(model, tokens_in, tokens_out, _prices(request)) if usage else None
    if cost is not None:
        span.set_attribute("ahora.cost_usd", cost)
    reason = meta.get("finish_reason") or meta.get("stop_reason") or meta.get("done_reason")
    if not reason:
        reason = "tool_calls" if reply.tool_calls else "stop"
    span.set_attribute("gen_ai.response.finish_reasons", [str(reason)])
    if isinstance(meta.get("model_name"), str):
        span.set_attribute("gen_ai.response.model", meta["model_name"])
    if reply.id:
        span.set_attribute("gen_ai.response.id", reply.id)
    if tracing.capture_content():
        span.set_attribute("gen_ai.output.messages", _chat_messages([reply]))


class ModelAttemptMiddleware(AgentMiddleware[Any, Any, Any]):
    """Innermost: notes each model attempt for the outer part; traces it as ``chat``."""

    def _begin(self, request: ModelRequest[Any]) -> _Attempt:
        attempt = _Attempt(model_label(request.model), time.time(), len(request.messages))
        found = _ATTEMPTS.get()
        if found is not None:
            found.append(attempt)
        return attempt

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        attempt = self._begin(request)
        try:
            if not tracing.enabled():
                return handler(request)
            attributes = _chat_attributes(request, attempt.model)
            with _span(f"chat {attempt.model}", attributes, "CLIENT") as span:
                response = handler(request)
                _on_reply(span, _reply(response), request, attempt.model)
                return response
        except BaseException as exc:
            attempt.error = type(exc).__name__
            raise
        finally:
            attempt.end = time.time()

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        attempt = self._begin(request)
        try:
            if not tracing.enabled():
                return await handler(request)
            attributes = _chat_attributes(request, attempt.model)
            with _span(f"chat {attempt.model}", attributes, "CLIENT") as span:
                response = await handler(request)
                _on_reply(span, _reply(response), request, attempt.model)
                return response
        except BaseException as exc:
            attempt.error = type(exc).__name__
            raise
        finally:
            attempt.end = time.time()


def _stop_event(reason: str) -> str:
    """Which of ahora's decisions a stop reason names (``BudgetMiddleware``, deadline)."""
    if "time limit" in reason:
        return "ahora.deadline"
    if "same tool call" in reason or "added no new information" in reason:
        return "ahora.loop_guard"
    return "ahora.budget_stop"


def _model_decisions(reply: AIMessage, attempts: list[_Attempt], sent: int) -> None:
    """Span events for what ahora decided about this model call, on the run's span."""
    stopped = reply.response_metadata.get(STOPPED_EARLY)
    context = reply.response_metadata.get(CONTEXT_KEY)
    failed = [a for a in attempts if a.error]
    if not (stopped or context or failed):
        return
    span = _run_span()
    if stopped:
        reason = stopped if isinstance(stopped, str) else ""
        span.add_event(_stop_event(reason), {"ahora.stop_reason": reason})
    if isinstance(context, dict):
        after = next((a.messages for a in reversed(attempts) if not a.error), sent)
        attributes = {f"ahora.context.{k}": int(v) for k, v in context.items()}
        span.add_event(
            "ahora.context_shortened",
            {
                **attributes,
                "ahora.context.messages_before": sent,
                "ahora.context.messages_after": after,
            },
        )
    answered = next((a.model for a in reversed(attempts) if not a.error), "")
    if failed and answered:
        span.add_event(
            "ahora.fallback",
            {"ahora.failed_models": [a.model for a in failed], "gen_ai.request.model": answered},
        )


def _record_model(response: Any, start: float, attempts: list[_Attempt], sent: int) -> Any:
    reply = _reply(response)
    if reply is None:
        return response
    answered = next((a.model for a in reversed(attempts) if not a.error), _NO_MODEL)
    failed = [
        FailedAttempt(model=a.model, start=a.start, end=a.end, error=a.error)
        for a in attempts
        if a.error
    ]
    timing = ModelTiming(start=start, end=time.time(), model=answered, failed=failed)
    reply.response_metadata[TIMING] = timing
    if tracing.enabled():
        _model_decisions(reply, attempts, sent)
    return response


# -- the tool side -------------------------------------------------------------------


def _tool_attributes(request: ToolCallRequest) -> dict[str, Any]:
    call = request.tool_call
    tool = request.tool
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call["name"],
        "gen_ai.tool.call.id": call.get("id") or "",
        "gen_ai.tool.type": "function",
    }
    if tool is not None and tool.description:
        attributes["gen_ai.tool.description"] = tool.description[:500]
    if tracing.capture_content():
        attributes["gen_ai.tool.call.arguments"] = _as_json(call.get("args") or {})
    return attributes


def _outcome(result: ToolMessage) -> Outcome:
    if isinstance(result.artifact, dict) and result.artifact.get(REPEATED_CALL):
        return "repeated"
    return "error" if result.status == "error" else "ok"


def _record_tool(result: Any, start: float, span: Span | None) -> Any:
    if not isinstance(result, ToolMessage):
        return result  # a Command: nothing of the tool's own to time
    text = content_text(result.content)
    outcome = _outcome(result)
    timing = ToolTiming(start=start, end=time.time(), outcome=outcome, bytes=len(text.encode()))
    result.response_metadata[TIMING] = timing
    if span is not None:
        _on_tool_result(span, result, outcome, timing["bytes"], text)
    return result


def _on_tool_result(
    span: Span, result: ToolMessage, outcome: Outcome, size: int, text: str
) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("ahora.tool.outcome", outcome)
    span.set_attribute("ahora.tool.bytes", size)
    artifact = result.artifact if isinstance(result.artifact, dict) else {}
    urls = [str(s.get("url", "")) for s in artifact.get("sources") or () if isinstance(s, dict)]
    if urls:
        span.set_attribute("ahora.tool.source_urls", urls)
    if outcome == "repeated":
        span.add_event("ahora.loop_guard", {"gen_ai.tool.name": result.name or ""})
    elif outcome == "error":
        error = str(artifact.get("error") or text)[:300]
        span.set_attribute("error.type", "tool_error")
        span.set_status(Status(StatusCode.ERROR, error))
    if tracing.capture_content():
        span.set_attribute("gen_ai.tool.call.result", text)


class TracingMiddleware(AgentMiddleware[Any, Any, Any]):
    """Outermost: times and records each model and tool call; traces the tools."""

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        attempts: list[_Attempt] = []
        token = _ATTEMPTS.set(attempts)
        start = time.time()
        try:
            response = handler(request)
        finally:
            _ATTEMPTS.reset(token)
        return _record_model(response, start, attempts, len(request.messages))  # type: ignore[no-any-return]

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        attempts: list[_Attempt] = []
        token = _ATTEMPTS.set(attempts)
        start = time.time()
        try:
            response = await handler(request)
        finally:
            _ATTEMPTS.reset(token)
        return _record_model(response, start, attempts, len(request.messages))  # type: ignore[no-any-return]

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        start = time.time()
        if not tracing.enabled():
            return _record_tool(handler(request), start, None)  # type: ignore[no-any-return]
        name = request.tool_call["name"]
        with _span(f"execute_tool {name}", _tool_attributes(request), "INTERNAL") as span:
            return _record_tool(handler(request), start, span)  # type: ignore[no-any-return]

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        start = time.time()
        if not tracing.enabled():
            return _record_tool(await handler(request), start, None)  # type: ignore[no-any-return]
        name = request.tool_call["name"]
        with _span(f"execute_tool {name}", _tool_attributes(request), "INTERNAL") as span:
            return _record_tool(await handler(request), start, span)  # type: ignore[no-any-return]
