"""Saved conversations as fine-tuning data (OpenAI chat JSONL).

One JSON object a line, ``{"messages": [...], "tools": [...]}``: the input of OpenAI's
fine-tuning and of most open-source trainers (TRL, Axolotl, LLaMA-Factory, Unsloth).

* roles ``system``, ``user``, ``assistant``, ``tool``; every ``content`` is a string;
* assistant tool calls as ``{"id", "type": "function", "function": {"name",
  "arguments": "<JSON string>"}}``, each answered by a ``tool`` message with its
  ``tool_call_id`` before the next assistant turn;
* ``tools`` as ``{"type": "function", "function": {"name", "description", "parameters"}}``:
  exactly the tools the model was offered in that conversation, as recorded with each
  reply (``ahora.offered``), whatever their source (built-ins, ``./tools``,
  ``--tools-dir``, ``--docs``, MCP); with ``"parallel_tool_calls": true``, as ahora
  offers them. Threads saved before ahora recorded them fall back to a given list.

Choices, and why:

* Tool output keeps ahora's ``<tool_output tool="...">`` fences. The system prompt
  tells the model that fenced text is data, not instructions; training on the same
  shape it sees at run time teaches exactly that.
* The system prompt is not in the checkpoint (ahora rebuilds it on every call with
  the date), so the caller supplies it as a function of the thread's time.
* Malformed tool calls (``ahora.middleware.invalid_tool_calls``) and their error
  replies are dropped, and so are calls never answered (a run cut short): a trainer
  must not learn to produce them. Text-only parts of multimodal messages are kept.
* Text ahora wrote in the model's place stays (the conversation needs it) with
  ``"weight": 0`` so trainers do not learn it: the "empty reply" fallback, and every
  reply made at a limit (``STOPPED_EARLY``: the budget's or the deadline's fallback
  text and summary, or an answer written under a last-turn note the export lacks).
* A tool result answers a call only right after the reply that made it: providers
  and local servers that number calls per reply reuse ids (``call_0_0``) across
  turns, so an id answered in one turn never makes another turn's call count as
  answered.
* Lines are one record each for any reader: U+2028 and U+2029 (line breaks to
  ``str.splitlines`` and JavaScript) are written as ``\\u`` escapes.
* Another agent called as a tool (``ahora.subagents``) is, in its caller's
  conversation, the tool call and its result, like any tool. Its own conversation is
  kept in the same store under ``THREAD/CALL_ID``: not a thread of its own when "all
  threads" are exported, and written as its own example only when asked
  (``sub_runs`` finds them; ``ahora threads export --subagents``).
* Secrets never leave: every string is scrubbed of known secret values (provider API
  keys, passwords, anything in an env var named like ``*_API_KEY``/``*_TOKEN``), in
  case a user pasted one or a tool echoed one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from ahora.offered import OFFERED, schema_hash
from ahora.safe_text import json_text

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.tools import BaseTool
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from ahora.settings import Settings

__all__ = [
    "REDACTED",
    "conversation_to_openai",
    "export_threads",
    "known_secrets",
    "list_thread_ids",
    "offered_tools",
    "redact",
    "sub_runs",
]

REDACTED = "[REDACTED]"
_MIN_SECRET = 8  # shorter values would scrub ordinary words
# Line breaks to str.splitlines() and JavaScript that JSON leaves raw (only ever inside
# strings, where the escape means the same character).
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029"})


def tool_schemas(tools: Sequence[BaseTool] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tools as ``{"type": "function", "function": {name, description, parameters}}``."""
    from ahora.offered import openai_schema

    return [openai_schema(t) for t in tools]


def offered_tools(
    messages: Sequence[BaseMessage],
    recorded: Mapping[str, Any],
    spare: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]] | None:
    """The schemas the model was offered in a conversation, in the order first offered
    (``recorded``: the thread's ``ahora_tools`` channel); None when its replies carry
    no record (saved before ahora kept one). ``KeyError``: a recorded hash whose schema
    is missing from both ``recorded`` and ``spare`` (schemas by hash, e.g. the agent's
    tools today: the same hash is the same schema, so a thread saved while the channel
    kept only its last value is recovered exactly when its tools did not change)."""
    hashes: dict[str, None] = {}
    found = False
    for m in messages:
        meta = getattr(m, "response_metadata", None) or {}
        if m.type == "ai" and OFFERED in meta:
            found = True
            hashes.update(dict.fromkeys(meta[OFFERED]))
    if not found:
        return None
    return [recorded[h] if h in recorded else (spare or {})[h] for h in hashes]


def conversation_to_openai(
    messages: Sequence[BaseMessage],
    tools: Sequence[BaseTool] | Sequence[Mapping[str, Any]] | None = None,
    system_prompt: str | None = None,
) -> dict[str, Any]:
    """One conversation as an OpenAI chat fine-tuning example (see the module docstring)."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    from ahora.messages import EMPTY_FALLBACK, STOPPED_EARLY, answered_calls
    from ahora.messages import INVALID_ARGUMENTS as MARKER

    answered = answered_calls(messages)  # within each turn: ids repeat across turns
    out: list[dict[str, Any]] = []
    if system_prompt:
        out.append({"role": "system", "content": system_prompt})
    open_calls: set[str] = set()
    for i, m in enumerate(messages):
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.text})
        elif isinstance(m, HumanMessage):
            out.append({"role": "user", "content": m.text})
        elif isinstance(m, AIMessage):
            calls = []
            for c in m.tool_calls:
                call_id = c.get("id") or ""  # no id: no result can be paired with it
                fresh = call_id and call_id in answered[i] - open_calls
                if fresh and MARKER not in (c.get("args") or {}):
                    open_calls.add(call_id)  # an id twice in one reply: the first only
                    calls.append(c)
            text = m.text
            if not calls and not text.strip():
                continue
            item: dict[str, Any] = {"role": "assistant", "content": text}
            if calls:
                item["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {
                            "name": c["name"],
                            "arguments": json.dumps(c.get("args") or {}, ensure_ascii=False),
                        },
                    }
                    for c in calls
                ]
            if not calls and (text == EMPTY_FALLBACK or STOPPED_EARLY in m.response_metadata):
                item["weight"] = 0
            out.append(item)
        elif isinstance(m, ToolMessage) and m.tool_call_id in open_calls:
            open_calls.discard(m.tool_call_id)
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text})
    example: dict[str, Any] = {"messages": out}
    if tools:
        example["tools"] = tool_schemas(tools)
        example["parallel_tool_calls"] = True  # ahora never turns them off
    return example


def known_secrets(*, settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Secret values to scrub: provider keys from settings, secret-looking env vars."""
    from urllib.parse import urlsplit

    from ahora.settings import is_secret_name

    env = os.environ if environ is None else environ
    values = [settings.openai_api_key, settings.anthropic_api_key, settings.postgres_url]
    if settings.postgres_url:
        values.append(urlsplit(settings.postgres_url).password)
    values += [v for k, v in env.items() if is_secret_name(k)]
    values += _named_secrets(settings.mcp_servers)  # servers' env, headers: tools may echo them
    unique = {v for v in values if v and len(v) >= _MIN_SECRET}
    return sorted(unique, key=len, reverse=True)  # longest first: a key inside a URL


def _named_secrets(value: Any, name: str = "") -> list[str]:
    """Strings under secret-looking keys anywhere in a config table (and the token of
    an ``Authorization: Bearer ...`` value)."""
    from ahora.settings import is_secret_name

    if isinstance(value, Mapping):
        return [v for k, item in value.items() for v in _named_secrets(item, str(k))]
    if isinstance(value, list):
        return [v for item in value for v in _named_secrets(item, name)]
    if isinstance(value, str) and is_secret_name(name):
        return [value, value.split()[-1]] if value.strip() else []
    return []


def redact(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` (JSON-like) with every secret replaced by ``[REDACTED]``."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    return value


_THREAD_IDS_SQL = (
    "SELECT thread_id FROM checkpoints WHERE checkpoint_ns = '' "
    "GROUP BY thread_id ORDER BY MAX(checkpoint_id)"
)


def list_thread_ids(checkpointer: BaseCheckpointSaver[Any]) -> list[str]:
    """Every thread id the checkpointer holds, oldest activity first for SQLite and
    PostgreSQL (one query there, instead of loading every checkpoint)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    if isinstance(checkpointer, SqliteSaver):
        with checkpointer.cursor(transaction=False) as cur:
            cur.execute(_THREAD_IDS_SQL)
            return [str(r[0]) for r in cur.fetchall()]
    if "langgraph.checkpoint.postgres" in sys.modules:  # imported if one may be in use
        from langgraph.checkpoint.postgres import PostgresSaver

        if isinstance(checkpointer, PostgresSaver):
            with checkpointer._cursor() as pg:
                pg.execute(_THREAD_IDS_SQL)
                return [str(r["thread_id"]) for r in pg.fetchall()]
    seen: dict[str, None] = {}
    for item in checkpointer.list(None):
        seen.setdefault(str(item.config["configurable"]["thread_id"]), None)
    return list(seen)


def sub_runs(
    checkpointer: BaseCheckpointSaver[Any], thread_ids: Iterable[str]
) -> list[tuple[str, str]]:
    """``(thread id, profile)`` of every sub-agent run the threads made, and of the runs
    those made in turn (``ahora.subagents``), each once, callers first; the profile is
    "" for an agent made in Python, which has none."""
    from ahora.messages import SUBRUN

    found: dict[str, str] = {}
    todo = list(thread_ids)
    while todo:
        thread_id = todo.pop(0)
        saved = checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
        if saved is None:
            continue
        for message in saved.checkpoint["channel_values"].get("messages") or []:
            artifact = getattr(message, "artifact", None)
            spent = artifact.get(SUBRUN) if isinstance(artifact, dict) else None
            if not isinstance(spent, dict):
                continue
            sub = spent.get("thread")
            if isinstance(sub, str) and sub not in found:
                found[sub] = str(spent.get("profile") or "")
                todo.append(sub)
    return list(found.items())


def _latest(
    checkpointer: BaseCheckpointSaver[Any], thread_ids: Iterable[str]
) -> Iterator[tuple[str, list[BaseMessage], dict[str, Any], datetime]]:
    for thread_id in thread_ids:
        found = checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
        if found is None:
            raise LookupError(f"no thread {thread_id!r} in this checkpointer")
        values = found.checkpoint["channel_values"]
        messages = list(values.get("messages") or [])
        when = datetime.fromisoformat(found.checkpoint["ts"]).astimezone(UTC)
        yield thread_id, messages, dict(values.get(OFFERED) or {}), when


def export_threads(
    checkpointer: BaseCheckpointSaver[Any],
    thread_ids: Sequence[str] | None,
    out: TextIO,
    *,
    secrets: Sequence[str],
    tools: Sequence[BaseTool] | Sequence[Mapping[str, Any]] | None = None,
    system_prompt: Callable[[datetime], str] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> int:
    """Write each thread's latest conversation as one JSONL line; return the lines written.

    Args:
        checkpointer: Any LangGraph checkpointer (SQLite, Postgres, in-memory).
        thread_ids: The threads to export, or None (or empty) for all of them.
        out: Where the JSONL goes.
        secrets: Values to scrub: ``known_secrets(settings=...)`` for the provider
            keys in the settings and the secret-looking environment variables.
        tools: For threads that carry no record of the tools offered (saved before
            ahora kept one): the tools the agent had; None: no ``tools`` key for them.
        system_prompt: Builds the system message from the time of the thread's last
            checkpoint (UTC); None: no system message.
        on_skip: Called with ``(thread_id, reason)`` for each thread left out.

    Raises:
        LookupError: a thread id the checkpointer does not hold (nothing is written).

    Left out, each reported through ``on_skip`` with why: threads without an assistant
    reply, and threads that call a tool their tool list lacks (a trainer must not learn
    calls to tools the model was never offered).
    """
    ids = list(thread_ids) if thread_ids else list_thread_ids(checkpointer)
    threads = list(_latest(checkpointer, ids))  # every id checked before writing
    scrub = list(secrets)
    fallback = tool_schemas(tools) if tools is not None else None
    spare = {schema_hash(s): s for s in fallback or []}
    written = 0
    for thread_id, messages, recorded, when in threads:
        reason = None
        try:
            schemas = offered_tools(messages, recorded, spare)
        except KeyError as exc:
            schemas, reason = None, f"the schema of an offered tool is missing ({exc})"
        if schemas is None:
            schemas = fallback
        declared = {s["function"]["name"] for s in schemas or []}
        prompt = system_prompt(when) if system_prompt is not None else None
        example = conversation_to_openai(messages, schemas, prompt)
        replies = [m for m in example["messages"] if m["role"] == "assistant"]
        called = {c["function"]["name"] for m in replies for c in m.get("tool_calls", [])}
        if reason is None and not replies:
            reason = "no assistant reply"
        elif reason is None and schemas is not None and called - declared:
            reason = f"calls tools not in the tool list: {', '.join(sorted(called - declared))}"
        if reason is not None:
            if on_skip is not None:
                on_skip(thread_id, reason)
            continue
        # json_text: C1 and bidi controls as \u escapes, inert on a terminal, same data;
        # U+2028/U+2029 too, or str.splitlines() would cut the record in two.
        text = json_text(json.dumps(redact(example, scrub), ensure_ascii=False))
        out.write(text.translate(_LINE_BREAKS) + "\n")
        written += 1
    return written
