"""Typed answers that validate, or a run that lands saying why not.

LangChain's ``response_format`` strategies do the asking: the tool strategy offers an
output tool and retries a call whose arguments do not validate (the error goes back
to the model as the tool's answer, one step of the budget each); the provider
strategy asks for JSON natively. Three gaps are closed here, around each model call:

* **A JSON schema dict is validated** (LangChain passes a dict schema's data through
  unchecked), with ``jsonschema``; a failure is retried like any other.
* **The provider strategy retries too**: LangChain raises on a reply that does not
  parse. Here the reply and the error go back to the model, which tries again in the
  same step; so does a reply that ends the run without the shape at all (a model
  that ignores the output tool). Each extra call counts against the step budget
  (``EXTRA_CALLS`` on the reply) and its tokens are added to the reply's usage.
* **Running out lands like every other limit**: when the tries are used up (at most
  ``RETRIES`` in one step, never past the step budget) the run ends with the last raw
  reply, marked stopped early, and the validation error (``OUTPUT_ERROR``) in the
  answer; never an exception from inside LangGraph.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.structured_output import (
    ProviderStrategy,
    StructuredOutputError,
    ToolStrategy,
)
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from ahora.context import context_of
from ahora.errors import InvalidSettings
from ahora.messages import (
    EXTRA_CALLS,
    OUTPUT_ERROR,
    OUTPUT_SCHEMA,
    STOPPED_EARLY,
    content_text,
    run_stats,
    this_run,
)
from ahora.schemas import check_json_schema

__all__ = ["RETRIES", "Strategy", "TypedOutputMiddleware", "response_format_for"]

RETRIES = 2
"""Extra calls in one step to get a reply of the right shape."""

_FIX = (
    "Your reply did not match the required answer format: {error}\n"
    "Reply again with only the answer in that format, fixing this."
)
_MISSING = "the reply gave no structured answer"


def _asked(request: ModelRequest[Any]) -> Any:
    """The JSON schema(s) a request asked the answer to fit."""
    fmt = request.response_format
    spec = getattr(fmt, "schema_spec", None)
    if spec is not None:
        return spec.json_schema
    specs = getattr(fmt, "schema_specs", None) or []
    return specs[0].json_schema if len(specs) == 1 else [s.json_schema for s in specs]


def _schema_dict(fmt: Any) -> dict[str, Any] | None:
    """The JSON schema of a format asked for as a plain dict (LangChain leaves it unchecked)."""
    schema = getattr(fmt, "schema", None)
    return schema if isinstance(schema, dict) else None


def _validation_error(schema: dict[str, Any], value: Any) -> str | None:
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "the answer"
    return f"{where}: {first.message}"


def _uncited(request: ModelRequest[Any], value: Any) -> str | None:
    """A ``Sourced`` field citing a URL this run never fetched (ahora.sourced)."""
    from ahora.sourced import cited_urls

    cited = list(cited_urls(value))
    if not cited:
        return None
    fetched = {
        str(src.get("url"))
        for m in this_run(request.messages)
        if isinstance(m, ToolMessage) and isinstance(m.artifact, dict)
        for src in m.artifact.get("sources") or []
    }
    for path, url in cited:
        if url not in fetched:
            known = ", ".join(sorted(fetched)) or "none: fetch the data with a tool first"
            return (
                f"{path} cites {url!r}, which no tool result of this run came from; "
                f"cite one of: {known}"
            )
    return None


def _usage_sum(messages: list[AIMessage]) -> dict[str, int] | None:
    totals = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    seen = False
    for m in messages:
        usage: dict[str, Any] = dict(m.usage_metadata or {})
        if usage:
            seen = True
            for key in totals:
                totals[key] += int(usage.get(key) or 0)
    return totals if seen else None


class TypedOutputMiddleware(AgentMiddleware[Any, Any, Any]):
    """Validates typed answers, retries within the budget, lands when it cannot."""

    def _check(self, request: ModelRequest[Any], response: ModelResponse[Any]) -> str | None:
        """Why ``response`` is not a typed answer yet (None: it is, or it goes on to tools)."""
        fmt = request.response_format
        if response.structured_response is not None:
            schema = _schema_dict(fmt)
            if schema is not None:
                return _validation_error(schema, response.structured_response)
            return _uncited(request, response.structured_response)
        ai = next((m for m in response.result if isinstance(m, AIMessage)), None)
        if ai is None:
            return None
        if any(isinstance(m, ToolMessage) for m in response.result):
            return None  # the tool strategy's own retry: the loop goes on
        if ai.tool_calls:
            return None  # ordinary tool calls first; the answer comes later
        return _MISSING

    def _tool_retry(self, response: ModelResponse[Any], error: str) -> ModelResponse[Any] | None:
        """A dict-schema answer from the output tool that failed: LangChain's retry shape."""
        ai = next((m for m in response.result if isinstance(m, AIMessage)), None)
        answered = [m for m in response.result if isinstance(m, ToolMessage)]
        if ai is None or not answered:
            return None
        fixed = [
            m.model_copy(update={"content": f"Error: {error}\n Please fix your mistakes."})
            if isinstance(m, ToolMessage)
            else m
            for m in response.result
        ]
        return ModelResponse(result=fixed, structured_response=None)

    def _tries_left(self, request: ModelRequest[Any]) -> int:
        context = context_of(request)
        if context is None:
            return RETRIES
        used = run_stats(request.messages, costs=False).steps
        return max(0, min(RETRIES, context.budget.steps - used - 1))

    @staticmethod
    def _again(request: ModelRequest[Any], reply: AIMessage, error: str) -> ModelRequest[Any]:
        said = AIMessage(content=content_text(reply.content) or "(no answer)")
        fix = HumanMessage(content=_FIX.format(error=error))
        return request.override(messages=[*request.messages, said, fix])

    @staticmethod
    def _finish(
        response: ModelResponse[Any],
        tries: list[AIMessage],
        error: str | None,
        schema: Any = None,
    ) -> ModelResponse[Any]:
        """The final response, counting the extra calls and their tokens."""
        extra = len(tries) - 1
        ai_index = next(
            (i for i, m in enumerate(response.result) if isinstance(m, AIMessage)), None
        )
        if ai_index is None:
            return response
        last = response.result[ai_index]
        assert isinstance(last, AIMessage)
        meta = dict(last.response_metadata)
        if extra:
            meta[EXTRA_CALLS] = extra
        if schema is not None:
            meta[OUTPUT_SCHEMA] = schema  # saved with the turn: what it was asked for
        update: dict[str, Any] = {}
        if error is not None:
            reason = f"the answer did not match the requested format ({error})"
            meta[STOPPED_EARLY] = reason
            meta[OUTPUT_ERROR] = error
            # Lands as text: no tool calls left unanswered, no structured value.
            update["tool_calls"] = []
            update["invalid_tool_calls"] = []
            update["additional_kwargs"] = {
                k: v for k, v in last.additional_kwargs.items() if k != "tool_calls"
            }
            if not content_text(last.content).strip():
                update["content"] = f"I stopped early: {reason}."
        usage = _usage_sum(tries) if extra else None
        if usage is not None:
            update["usage_metadata"] = usage
        update["response_metadata"] = meta
        result = list(response.result)
        result[ai_index] = last.model_copy(update=update)
        if error is not None:
            result = [m for m in result if not isinstance(m, ToolMessage)]
            return ModelResponse(result=result, structured_response=None)
        return ModelResponse(result=result, structured_response=response.structured_response)

    def _step(
        self, request: ModelRequest[Any], response: ModelResponse[Any] | None, raised: Any
    ) -> tuple[str | None, AIMessage | None, ModelResponse[Any] | None]:
        """(error, the reply, a response to return now) for one try."""
        if raised is not None:
            reply = raised.ai_message
            why = str(getattr(raised, "source", None) or raised)
            return why, reply, ModelResponse(result=[reply], structured_response=None)
        assert response is not None
        error = self._check(request, response)
        reply = next((m for m in response.result if isinstance(m, AIMessage)), None)
        if error is not None and isinstance(request.response_format, ToolStrategy):
            retry = self._tool_retry(response, error) if error != _MISSING else None
            if retry is not None:
                return None, reply, retry  # LangChain's shape: the next step retries
        return error, reply, response

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        if not isinstance(request.response_format, ToolStrategy | ProviderStrategy):
            return handler(request)
        tries: list[AIMessage] = []
        left = self._tries_left(request)
        current = request
        while True:
            response: ModelResponse[Any] | None = None
            raised = None
            try:
                response = handler(current)
            except StructuredOutputError as exc:
                raised = exc
            error, reply, out = self._step(current, response, raised)
            if reply is not None:
                tries.append(reply)
            if error is None or reply is None or left <= 0:
                assert out is not None
                return self._finish(out, tries, error, _asked(request))
            left -= 1
            current = self._again(current, reply, error)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        if not isinstance(request.response_format, ToolStrategy | ProviderStrategy):
            return await handler(request)
        tries: list[AIMessage] = []
        left = self._tries_left(request)
        current = request
        while True:
            response: ModelResponse[Any] | None = None
            raised = None
            try:
                response = await handler(current)
            except StructuredOutputError as exc:
                raised = exc
            error, reply, out = self._step(current, response, raised)
            if reply is not None:
                tries.append(reply)
            if error is None or reply is None or left <= 0:
                assert out is not None
                return self._finish(out, tries, error, _asked(request))
            left -= 1
            current = self._again(current, reply, error)


Strategy = Literal["auto", "tool", "provider"]


def response_format_for(
    output: Any, strategy: Strategy, model: Any, tools: Sequence[Any]
) -> ToolStrategy[Any] | ProviderStrategy[Any]:
    """LangChain's strategy for ``output``: the provider's native structured output
    where the model supports it (``"auto"``; never for a union, which only the tool
    strategy can offer), the output tool elsewhere; or the one asked for."""
    if isinstance(output, ToolStrategy | ProviderStrategy):
        return output
    if isinstance(output, dict) and not output.get("title"):
        output = {"title": "answer", **output}  # a stable output-tool name, not a random one
    if strategy not in ("auto", "tool", "provider"):
        raise InvalidSettings(f"output_strategy must be auto, tool or provider, not {strategy!r}")
    union = get_origin(output) in (Union, UnionType)
    variants = get_args(output) if union else (output,)
    for variant in variants:
        _check_output_type(variant)
    if strategy == "provider" and union:
        raise InvalidSettings("a union of answer types needs output_strategy='tool' (or 'auto')")
    if strategy == "auto":
        from langchain.agents.factory import _supports_provider_strategy

        native = not union and _supports_provider_strategy(model, tools=list(tools))
        strategy = "provider" if native else "tool"
    return ProviderStrategy(output) if strategy == "provider" else ToolStrategy(output)


def _check_output_type(output: Any) -> None:
    """A clear message for an answer type LangChain cannot ask for."""
    if isinstance(output, dict):
        check_json_schema(output, "the output schema")
        return
    from dataclasses import is_dataclass

    from pydantic import BaseModel
    from typing_extensions import is_typeddict

    if isinstance(output, type) and (
        issubclass(output, BaseModel) or is_dataclass(output) or is_typeddict(output)
    ):
        from pydantic import PydanticUserError, TypeAdapter

        try:
            TypeAdapter(output).json_schema()
        except (PydanticUserError, TypeError, ValueError) as exc:
            raise InvalidSettings(
                f"the output type {output.__name__} cannot be used: {exc}"
            ) from exc
        return
    raise InvalidSettings(
        f"output must be a Pydantic model, a dataclass, a TypedDict, a JSON schema dict "
        f"or a union of them, not {output!r}"
    )
