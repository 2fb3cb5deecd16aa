"""Record which tools the model was offered at each call (``ahora.offered``), so an
export writes exactly those, whatever their source (built-ins, ``./tools``,
``--tools-dir``, ``--docs``, MCP) and whatever the budget took away on the last call.

It sits innermost, next to the model, so it sees the tool list as actually sent. A
schema is added to the thread's ``ahora_tools`` channel only the first time it is
offered; the reply carries the hashes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NotRequired

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ExtendedModelResponse, PrivateStateAttr
from langchain_core.messages import AIMessage
from langgraph.types import Command

from ahora.offered import OFFERED, merge_schemas, openai_schema, schema_hash

__all__ = ["OfferedToolsMiddleware"]


class OfferedToolsState(AgentState[Any]):
    # Private: kept in the checkpoint for the export, not in the graph's input or output.
    # The reducer comes last: LangGraph reads only the last ``Annotated`` item as one
    # (``langgraph.graph.state._is_field_binop``); LangChain finds ``PrivateStateAttr``
    # anywhere in the list.
    ahora_tools: NotRequired[Annotated[dict[str, Any], PrivateStateAttr, merge_schemas]]


class OfferedToolsMiddleware(AgentMiddleware[OfferedToolsState, Any, Any]):
    """Tags each reply with the hashes of the tools offered; stores new schemas once."""

    state_schema = OfferedToolsState

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[int, tuple[Any, str, dict[str, Any]]] = {}  # id -> (tool, hash, schema)
        self._outputs: dict[tuple[str, str, int], tuple[str, dict[str, Any]]] = {}

    def _schemas(self, request: ModelRequest[Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for tool in request.tools:
            cached = self._cache.get(id(tool))
            if cached is None or cached[0] is not tool:
                schema = openai_schema(tool)
                cached = self._cache[id(tool)] = (tool, schema_hash(schema), schema)
            out[cached[1]] = cached[2]
        # A typed answer's output tools are offered too (LangChain adds them after the
        # middleware): an exported example must declare the tool its answer calls.
        fmt = request.response_format
        for spec in getattr(fmt, "schema_specs", None) or ():
            key = ("output", spec.name, id(fmt))
            found = self._outputs.get(key)
            if found is None:
                from langchain.agents.structured_output import OutputToolBinding

                schema = openai_schema(OutputToolBinding.from_schema_spec(spec).tool)
                found = self._outputs[key] = (schema_hash(schema), schema)
            out[found[0]] = found[1]
        return out

    def _tagged(
        self, request: ModelRequest[Any], offered: dict[str, dict[str, Any]], response: Any
    ) -> Any:
        extended = isinstance(response, ExtendedModelResponse)
        result = response.model_response if extended else response
        messages = [result] if isinstance(result, AIMessage) else list(result.result)
        for message in messages:
            if isinstance(message, AIMessage):
                message.response_metadata[OFFERED] = list(offered)  # in the order sent
        known: dict[str, Any] = request.state.get(OFFERED) or {}  # type: ignore[assignment]
        new = {h: s for h, s in offered.items() if h not in known}
        if not new or extended:
            return response
        if isinstance(result, AIMessage):
            result = ModelResponse(result=[result])
        return ExtendedModelResponse(model_response=result, command=Command(update={OFFERED: new}))

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> Any:
        offered = self._schemas(request)
        return self._tagged(request, offered, handler(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> Any:
        offered = self._schemas(request)
        return self._tagged(request, offered, await handler(request))
