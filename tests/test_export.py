"""Fine-tuning export: real threads run through the agent and saved by real checkpointers,
exported, and every line checked against the OpenAI chat fine-tuning format."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from typer.testing import CliRunner

from ahora import create_agent
from ahora.cli.export_cmd import export
from ahora.export import REDACTED, conversation_to_openai, export_threads, list_thread_ids
from ahora.middleware.empty_reply import EMPTY_FALLBACK
from ahora.settings import get_settings
from ahora.testing import ScriptedChatModel, invalid_tool_call, tool_call, tool_calls
from ahora.threads import ThreadIndex, close_checkpointer, open_checkpointer

SENTINEL = "sk-test-SENTINEL-0123456789abcdef"


@tool
def opening_hours(place: str) -> str:
    """Opening hours of a place.

    Args:
        place: The place's name.
    """
    return f"{place}: open 9:00-18:00"


@tool
def echo_config(key: str) -> str:
    """Show a configuration value (a careless tool that leaks the API key).

    Args:
        key: The setting's name.
    """
    import os

    return f"{key} = {os.environ.get('OPENAI_API_KEY', '')}"


TOOLS: list[BaseTool] = [opening_hours, echo_config]


# --- the format's rules ---------------------------------------------------------------


def validate_line(line: str) -> dict[str, Any]:
    """Check one JSONL line against the OpenAI chat fine-tuning format; return it."""
    assert line.endswith("\n") and "\n" not in line[:-1]
    example = json.loads(line)
    assert set(example) <= {"messages", "tools", "parallel_tool_calls"}
    tool_names: set[str] | None = None
    if "tools" in example:
        tool_names = set()
        for t in example["tools"]:
            assert set(t) == {"type", "function"} and t["type"] == "function"
            fn = t["function"]
            assert isinstance(fn["name"], str) and fn["name"]
            assert isinstance(fn["description"], str)
            assert isinstance(fn["parameters"], dict) and fn["parameters"]["type"] == "object"
            tool_names.add(fn["name"])
    messages = example["messages"]
    assert isinstance(messages, list) and messages
    pending: set[str] = set()
    assistants = 0
    for m in messages:
        role = m["role"]
        assert role in ("system", "user", "assistant", "tool"), m
        assert isinstance(m["content"], str), m
        if role != "tool":
            assert not pending, f"tool calls {pending} unanswered before {m}"
        if role in ("system", "user"):
            assert set(m) <= {"role", "content", "name"}, m
        elif role == "assistant":
            assistants += 1
            assert set(m) <= {"role", "content", "tool_calls", "weight", "name"}, m
            if "weight" in m:
                assert m["weight"] in (0, 1)
            calls = m.get("tool_calls")
            if not calls:
                assert m["content"].strip(), f"empty assistant message without tool calls: {m}"
                continue
            for c in calls:
                assert set(c) == {"id", "type", "function"} and c["type"] == "function"
                assert isinstance(c["id"], str) and c["id"] not in pending
                assert set(c["function"]) == {"name", "arguments"}
                assert isinstance(c["function"]["arguments"], str)
                assert isinstance(json.loads(c["function"]["arguments"]), dict)
                if tool_names is not None:
                    assert c["function"]["name"] in tool_names
                pending.add(c["id"])
        else:
            assert set(m) == {"role", "tool_call_id", "content"}, m
            assert m["tool_call_id"] in pending, f"tool message answers no call: {m}"
            pending.discard(m["tool_call_id"])
    assert not pending, f"tool calls {pending} never answered"
    assert assistants >= 1
    return dict(example)


def validate_jsonl(text: str) -> list[dict[str, Any]]:
    return [validate_line(line) for line in text.splitlines(keepends=True)]


# --- threads made by the real agent loop ----------------------------------------------


def run_threads(checkpointer: Any) -> None:
    """Two threads: one with parallel calls, a malformed call and two turns; one plain."""
    model = ScriptedChatModel(
        replies=[
            invalid_tool_call("opening_hours", '{"place": "Louvre'),
            tool_calls(
                ("opening_hours", {"place": "Louvre"}), ("opening_hours", {"place": "Orsay"})
            ),
            "The Louvre and the Musée d'Orsay both open 9:00-18:00.",
            tool_call("echo_config", {"key": "openai_api_key"}),
            "Done. (Musée d'Orsay — «ouvert»)",
        ]
    )
    graph = create_agent(model, TOOLS, checkpointer=checkpointer)
    museums = {"configurable": {"thread_id": "museums"}}
    graph.invoke({"messages": [HumanMessage("When do the Louvre and Orsay open?")]}, museums)
    graph.invoke({"messages": [HumanMessage(f"Check my key, it is {SENTINEL}")]}, museums)

    plain = create_agent(ScriptedChatModel(replies=["Hello!"]), TOOLS, checkpointer=checkpointer)
    plain.invoke({"messages": [HumanMessage("Hi")]}, {"configurable": {"thread_id": "hello"}})


@pytest.fixture(params=["memory", "sqlite"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemorySaver()
        return
    conn = sqlite3.connect(tmp_path / "threads.sqlite", check_same_thread=False)
    yield SqliteSaver(conn)
    conn.close()


def _prompt(when: datetime) -> str:
    return f"You are ahora. Today is {when:%Y-%m-%d}."


def test_export_all_threads_is_valid_and_complete(
    saver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    run_threads(saver)
    assert sorted(list_thread_ids(saver)) == ["hello", "museums"]
    out = io.StringIO()
    count = export_threads(saver, None, out, tools=TOOLS, system_prompt=_prompt)
    examples = validate_jsonl(out.getvalue())
    assert count == len(examples) == 2

    museums = next(e for e in examples if len(e["messages"]) > 3)
    roles = [m["role"] for m in museums["messages"]]
    assert roles == [
        "system",
        "user",
        "assistant",  # two parallel calls; the malformed one before it is dropped
        "tool",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert museums["messages"][0]["content"] == f"You are ahora. Today is {today}."
    calls = museums["messages"][2]["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"place": "Louvre"},
        {"place": "Orsay"},
    ]
    assert "Louvre" not in str(museums["messages"][2]["content"])  # the call's text is ""
    tool_texts = [m["content"] for m in museums["messages"] if m["role"] == "tool"]
    # Fences kept: the model learns the shape its system prompt describes.
    assert tool_texts[0].startswith('<tool_output tool="opening_hours">')
    assert "Louvre: open 9:00-18:00" in tool_texts[0]
    assert "not valid JSON" not in out.getvalue()
    assert museums["messages"][-1]["content"] == "Done. (Musée d'Orsay — «ouvert»)"
    assert "Musée" in out.getvalue()  # UTF-8, not \\u escapes
    assert sorted(t["function"]["name"] for t in museums["tools"]) == [
        "echo_config",
        "opening_hours",
    ]
    assert museums["tools"][0]["function"]["parameters"]["properties"]["place"]["type"] == (
        "string"
    )


def test_secrets_never_leave(saver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key was pasted by the user and echoed by a tool; the export scrubs both."""
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    run_threads(saver)
    state = saver.get_tuple({"configurable": {"thread_id": "museums"}})
    assert SENTINEL in str(state.checkpoint["channel_values"]["messages"])  # it is in there
    out = io.StringIO()
    export_threads(saver, ["museums"], out, tools=TOOLS)
    text = out.getvalue()
    assert SENTINEL not in text
    assert SENTINEL[4:20] not in text
    assert text.count(REDACTED) == 2
    validate_jsonl(text)


def test_export_chosen_threads_and_unknown_ids(saver: Any) -> None:
    run_threads(saver)
    out = io.StringIO()
    assert export_threads(saver, ["hello"], out, secrets=[]) == 1
    (example,) = validate_jsonl(out.getvalue())
    assert example == {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
        ]
    }
    skipped: list[tuple[str, str]] = []
    out = io.StringIO()
    count = export_threads(
        saver, None, out, tools=[opening_hours], on_skip=lambda *a: skipped.append(a)
    )
    assert count == 1 and skipped == [("museums", "calls tools not in the tool list: echo_config")]
    assert validate_jsonl(out.getvalue())[0]["tools"][0]["function"]["name"] == "opening_hours"

    out = io.StringIO()
    with pytest.raises(LookupError, match="nope"):
        export_threads(saver, ["hello", "nope"], out, secrets=[])
    assert out.getvalue() == ""  # nothing written when an id is wrong


# --- conversation edge cases -----------------------------------------------------------


def test_unanswered_orphan_and_empty_messages_are_dropped() -> None:
    ask = AIMessage(
        "",
        tool_calls=[
            {"name": "opening_hours", "args": {"place": "A"}, "id": "c1", "type": "tool_call"},
            {"name": "opening_hours", "args": {"place": "B"}, "id": "c2", "type": "tool_call"},
        ],
    )
    messages = [
        SystemMessage("Be kind."),
        HumanMessage([{"type": "text", "text": "Hours? "}, {"type": "image_url", "image_url": {}}]),
        AIMessage(""),  # empty reply: nothing to learn
        ask,
        ToolMessage("A: 9-5", tool_call_id="c1"),  # c2 was never answered (run cut short)
        ToolMessage("stray", tool_call_id="zz"),
        AIMessage(EMPTY_FALLBACK),
    ]
    example = conversation_to_openai(messages, [opening_hours.tool_call_schema], None)
    line = json.dumps(example) + "\n"
    validate_line(line)
    msgs = example["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool", "assistant"]
    assert msgs[1]["content"] == "Hours? "
    assert [c["id"] for c in msgs[2]["tool_calls"]] == ["c1"]
    assert msgs[-1] == {"role": "assistant", "content": EMPTY_FALLBACK, "weight": 0}
    assert example["tools"][0]["function"]["name"] == "opening_hours"


def test_openai_tool_dicts_pass_through() -> None:
    schema = {
        "type": "function",
        "function": {
            "name": "ping",
            "description": "Ping.",
            "parameters": {"type": "object", "properties": {}},
        },
    }
    example = conversation_to_openai([HumanMessage("x"), AIMessage("y")], [schema], "sys")
    assert example["tools"] == [schema]
    assert example["messages"][0] == {"role": "system", "content": "sys"}


# --- the CLI command -----------------------------------------------------------------------


def _cli() -> typer.Typer:
    threads = typer.Typer()

    @threads.callback()
    def _group() -> None:
        """threads"""

    threads.command("export")(export)  # the one line the lead adds
    return threads


def test_cli_exports_saved_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    saver = open_checkpointer(get_settings())
    try:
        run_threads(saver)
        model = ScriptedChatModel(
            replies=[tool_call("calculator", {"expression": "250*3/4"}), "Use 187.5 g of flour."]
        )
        graph = create_agent(model, ["calculator"], checkpointer=saver)
        config = {"configurable": {"thread_id": "flour"}}
        graph.invoke({"messages": [HumanMessage("Scale 250 g of flour to 3/4")]}, config)
    finally:
        close_checkpointer(saver)
    target = tmp_path / "train.jsonl"
    result = CliRunner().invoke(_cli(), ["export", "--profile", "chef", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "Exported 2 conversation(s)" in result.output
    assert "Skipped museums: calls tools not in the tool list: echo_config" in result.output
    text = target.read_text(encoding="utf-8")
    examples = validate_jsonl(text)
    flour = next(e for e in examples if len(e["messages"]) > 3)
    assert flour["messages"][2]["tool_calls"][0]["function"]["name"] == "calculator"
    assert "187.5" in flour["messages"][3]["content"]
    assert SENTINEL not in text
    system = examples[0]["messages"][0]
    assert system["role"] == "system"
    assert "You help ONLY with these topics" in system["content"]  # chef's instructions
    assert "Today is" in system["content"]  # ahora's dated system prompt
    assert {t["function"]["name"] for t in examples[0]["tools"]} == {
        "web_search",
        "read_page",
        "calculator",
    }

    # Ids given as a prefix resolve through ahora's thread index (the CLI records turns).
    with ThreadIndex.for_settings(get_settings()) as index:
        index.finish_turn("hello", question="Hi", answer="Hello!")
    one = CliRunner().invoke(_cli(), ["export", "hel", "--no-system-prompt"])
    assert one.exit_code == 0, one.output
    lines = [line for line in one.output.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    assert json.loads(lines[0])["messages"][0] == {"role": "user", "content": "Hi"}

    missing = CliRunner().invoke(_cli(), ["export", "nope"])
    assert missing.exit_code == 2
    assert "no thread 'nope'" in missing.output


def test_cli_without_saved_threads() -> None:
    result = CliRunner().invoke(_cli(), ["export"])
    assert result.exit_code == 0, result.output
    assert "No saved threads yet" in result.output


# --- which secrets are scrubbed ------------------------------------------------------------


def _pasted(text: str) -> InMemorySaver:
    """A saved thread in which the user pasted ``text`` and a tool echoed it."""
    saver = InMemorySaver()
    model = ScriptedChatModel(replies=[tool_call("opening_hours", {"place": text}), "Noted."])
    graph = create_agent(model, TOOLS, checkpointer=saver)
    graph.invoke(
        {"messages": [HumanMessage(f"mine: {text}")]}, {"configurable": {"thread_id": "t"}}
    )
    return saver


@pytest.mark.parametrize(
    "name", ["GITHUB_TOKEN", "HF_TOKEN", "MISTRAL_API_KEY", "AWS_SECRET_ACCESS_KEY"]
)
def test_secret_named_environment_variables_are_scrubbed(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "v4lue-of-a-secret-0123456789"
    monkeypatch.setenv(name, value)
    out = io.StringIO()
    export_threads(_pasted(value), None, out, tools=TOOLS)
    assert value not in out.getvalue() and REDACTED in out.getvalue()
    validate_jsonl(out.getvalue())


def test_a_postgres_url_and_its_password_are_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahora.export import known_secrets
    from ahora.settings import Settings

    url = "postgresql://ahora:Pa55word-for-db@db.example:5432/threads"
    secrets = known_secrets(Settings(postgres_url=url), environ={})
    assert secrets == [url, "Pa55word-for-db"]  # longest first: the URL before its part
    out = io.StringIO()
    export_threads(_pasted(f"{url} and Pa55word-for-db"), None, out, secrets=secrets)
    text = out.getvalue()
    assert "Pa55word" not in text and "db.example" not in text
    assert f"{REDACTED} and {REDACTED}" in text


def test_short_and_ordinary_values_are_not_scrubbed() -> None:
    """Scrubbing 'yes' or '1' would garble ordinary words; 8 characters is the floor."""
    from ahora.export import known_secrets
    from ahora.settings import Settings

    env = {
        "SHORT_TOKEN": "abc1234",  # 7 characters: too short to scrub
        "EIGHT_TOKEN": "abcd1234",  # 8: scrubbed
        "LANG": "en_US.UTF-8",  # not secret-named
        "EDITOR_PATH": "/usr/bin/vim-nox",
    }
    assert known_secrets(Settings(), environ=env) == ["abcd1234"]
    settings = Settings(openai_api_key="sk-open-12345678", anthropic_api_key="sk-1234")
    assert known_secrets(settings, environ={}) == ["sk-open-12345678"]


def test_redact_walks_nested_values_and_leaves_the_rest() -> None:
    from ahora.export import redact

    value = {"a": ["x sk-12345678 y", {"b": "sk-12345678"}], "n": 3, "none": None}
    assert redact(value, ["sk-12345678"]) == {
        "a": [f"x {REDACTED} y", {"b": REDACTED}],
        "n": 3,
        "none": None,
    }


def test_a_tool_dict_without_description_or_parameters_gets_both() -> None:
    """OpenAI's fine-tuning format wants both keys, even for a tool that takes nothing."""
    bare = {"type": "function", "function": {"name": "ping"}}
    example = conversation_to_openai([HumanMessage("x"), AIMessage("y")], [bare], None)
    assert example["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "ping",
                "description": "",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    assert bare == {"type": "function", "function": {"name": "ping"}}  # the input is untouched


def test_a_thread_whose_checkpoint_holds_no_messages_is_skipped() -> None:
    from langgraph.checkpoint.base import empty_checkpoint

    saver = InMemorySaver()
    config: Any = {"configurable": {"thread_id": "empty", "checkpoint_ns": ""}}
    saver.put(config, empty_checkpoint(), {}, {})
    skipped: list[tuple[str, str]] = []
    out = io.StringIO()
    count = export_threads(
        saver, None, out, secrets=[], on_skip=lambda t, r: skipped.append((t, r))
    )
    assert count == 0 and out.getvalue() == ""
    assert skipped == [("empty", "no assistant reply")]
