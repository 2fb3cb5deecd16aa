"""How a conversation records the tools its model was offered: the format shared by
``middleware/offered_tools.py`` (which writes it) and ``export.py`` (which reads it).

* Each ``AIMessage`` the model returns carries ``response_metadata["ahora_tools"]``:
  the content hashes of the tool schemas offered to that call (none: offered none).
* The graph state channel ``ahora_tools`` maps each hash to its schema, in OpenAI's
  ``{"type": "function", "function": {name, description, parameters}}`` shape: each
  schema is stored once per thread, however many calls offered it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["OFFERED", "merge_schemas", "openai_schema", "schema_hash"]

OFFERED = "ahora_tools"


def openai_schema(tool: Any) -> dict[str, Any]:
    """A tool (LangChain tool, function or schema dict) in OpenAI's function shape."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    if isinstance(tool, Mapping) and tool.get("type") == "function" and "function" in tool:
        schema: dict[str, Any] = json.loads(json.dumps(tool))
    else:
        schema = convert_to_openai_tool(tool)
    fn = schema["function"]
    fn.setdefault("description", "")
    fn.setdefault("parameters", {"type": "object", "properties": {}})
    return {"type": "function", "function": fn}


def schema_hash(schema: Mapping[str, Any]) -> str:
    """A short content hash: the same schema gets the same key in every thread."""
    text = json.dumps(schema, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def merge_schemas(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, Any]:
    """The state channel's reducer: schemas only ever add up."""
    return {**(old or {}), **(new or {})}
