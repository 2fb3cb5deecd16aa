"""Answer shapes from the terminal: ``llm``'s concise schema syntax, JSON schema files,
and ``module:Class`` paths, turned into what ``Agent.ask(output=...)`` takes.

The concise syntax (the one ``llm --schema`` made familiar)::

    name, age int, bio: a short biography

is a list of fields, separated by commas (or by newlines, when the text has any, so a
description may hold commas). Each field is ``NAME [TYPE][: DESCRIPTION]``, with TYPE
one of ``str`` (the default), ``int``, ``float``, ``bool``. Every field is required.
``parse_concise`` gives a JSON schema object; ``load_schema`` accepts any of the
three forms.

Light imports only: the CLI parses ``--schema`` before LangChain is loaded.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

from ahora.errors import InvalidSettings

__all__ = ["load_schema", "parse_concise"]

_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_FIELD = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\s+(?P<type>[A-Za-z]+))?$")


def parse_concise(spec: str) -> dict[str, Any]:
    """A JSON schema object from the concise syntax; ``InvalidSettings`` names a bad field."""
    text = spec.strip()
    if not text:
        raise InvalidSettings("the schema is empty: name at least one field, e.g. 'name, age int'")
    parts = text.splitlines() if "\n" in text else text.split(",")
    properties: dict[str, Any] = {}
    for raw in parts:
        part = raw.strip()
        if not part:
            continue
        head, _, description = part.partition(":")
        found = _FIELD.match(head.strip())
        if found is None:
            raise InvalidSettings(
                f"schema field {part!r} is not NAME [TYPE][: description] "
                f"(TYPE one of {', '.join(_TYPES)})"
            )
        name, kind = found.group("name"), (found.group("type") or "str").lower()
        if kind not in _TYPES:
            raise InvalidSettings(
                f"schema field {name!r} has type {kind!r}; use one of {', '.join(_TYPES)}"
            )
        if name in properties:
            raise InvalidSettings(f"schema field {name!r} is named twice")
        prop: dict[str, Any] = {"type": _TYPES[kind]}
        if description.strip():
            prop["description"] = description.strip()
        properties[name] = prop
    if not properties:
        raise InvalidSettings("the schema names no field, e.g. 'name, age int'")
    return {
        "title": "answer",
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def load_schema(spec: str, *, base: Path | None = None) -> Any:
    """The answer shape ``spec`` names: a ``.json`` file (relative to ``base``), a
    ``module:Class`` (a Pydantic model, dataclass or TypedDict), or the concise syntax."""
    text = spec.strip()
    if text.endswith(".json") and "\n" not in text:
        path = Path(text).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidSettings(f"cannot read the schema file {path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise InvalidSettings(f"the schema file {path} is not valid JSON: {exc}") from exc
        return check_json_schema(schema, str(path))
    if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", text):
        module, _, attr = text.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise InvalidSettings(f"cannot import the answer type {text}: {exc}") from exc
        return found
    return parse_concise(text)


def check_json_schema(schema: Any, where: str = "the schema") -> dict[str, Any]:
    """``schema`` if it is a JSON schema object a model can be asked for."""
    if not isinstance(schema, dict):
        raise InvalidSettings(f"{where} must be a JSON object, not {type(schema).__name__}")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidSettings(f"{where} is not a valid JSON schema: {exc.message}") from exc
    return schema
