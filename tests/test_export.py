"""Fine-tuning export: real threads run through the agent and saved by real checkpointers,
exported, and every line checked against the OpenAI chat fine-tuning format."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
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

from ahora import Agent, create_agent
from ahora.cli.export_cmd import export
from ahora.export import (
    REDACTED,
    conversation_to_openai,
    export_threads,
    known_secrets,
    list_thread_ids,
)
from ahora.middleware.empty_reply import EMPTY_FALLBACK
from ahora.settings import get_settings
from ahora.testing import ScriptedChatModel, invalid_tool_call, tool_call, tool_calls
from ahora.threads import ThreadIndex, close_checkpointer, open_checkpointer
from tests.cli.conftest import model_server, runner

__all__ = ["model_server", "runner"]  # fixtures, imported for pytest

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

    return f"{key} = {os.environ.get('OPENAI_API_KEY', '')}"


TOOLS: list[BaseTool] = [opening_hours, echo_config]


# --- the format's rules ---------------------------------------------------------------


def validate_line(line: str) -> dict[str, Any]:
    """Check one JSONL line against OpenAI's chat fine-tuning format with tool calling;
    return it.

    The rules, from OpenAI's fine-tuning guide and its API reference (the per-line
    ``FineTuneChatRequestInput``): one JSON object a line with ``messages`` and
    optionally ``tools`` (``{"type": "function", "function": {name, description,
    parameters}}``, names of 1-64 letters, digits, ``_`` or ``-``, each once) and
    ``parallel_tool_calls`` (a boolean; when false no assistant message may call more
    than one tool); roles system, user, assistant, tool; an assistant message has text
    or ``tool_calls`` (``id``, ``type: "function"``, ``function.name`` among the tools,
    ``function.arguments`` a JSON object as a string) and may carry ``weight`` 0 or 1;
    each call is answered by a ``tool`` message with its ``tool_call_id`` before the
    next turn; at least one assistant message to learn from.
    """
    assert line.endswith("\n") and "\n" not in line[:-1]
    example = json.loads(line)
    assert set(example) <= {"messages", "tools", "parallel_tool_calls"}
    parallel = example.get("parallel_tool_calls", True)
    assert isinstance(parallel, bool)
    tool_names: set[str] | None = None
    if "tools" in example:
        tool_names = set()
        assert isinstance(example["tools"], list)
        for t in example["tools"]:
            assert set(t) == {"type", "function"} and t["type"] == "function"
            fn = t["function"]
            assert set(fn) <= {"name", "description", "parameters", "strict"}
            assert isinstance(fn["name"], str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", fn["name"])
            assert fn["name"] not in tool_names, f"tool {fn['name']} listed twice"
            assert isinstance(fn["description"], str)
            assert isinstance(fn["parameters"], dict) and fn["parameters"]["type"] == "object"
            tool_names.add(fn["name"])
    else:
        assert "parallel_tool_calls" not in example  # it configures tools
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
            assert isinstance(calls, list)
            assert parallel or len(calls) == 1, "several calls with parallel_tool_calls false"
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
    count = export_threads(
        saver,
        None,
        out,
        secrets=known_secrets(settings=get_settings()),
        tools=TOOLS,
        system_prompt=_prompt,
    )
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
    export_threads(
        saver, ["museums"], out, secrets=known_secrets(settings=get_settings()), tools=TOOLS
    )
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
    assert example["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
    ]
    # The tools each thread was offered are recorded with it: a list given here (the
    # profile's, today) changes nothing for them.
    skipped: list[tuple[str, str]] = []
    out = io.StringIO()
    count = export_threads(
        saver,
        None,
        out,
        secrets=known_secrets(settings=get_settings()),
        tools=[opening_hours],
        on_skip=lambda *a: skipped.append(a),
    )
    assert count == 2 and skipped == []
    for example in validate_jsonl(out.getvalue()):
        assert [t["function"]["name"] for t in example["tools"]] == [t.name for t in TOOLS]

    out = io.StringIO()
    with pytest.raises(LookupError, match="nope"):
        export_threads(saver, ["hello", "nope"], out, secrets=[])
    assert out.getvalue() == ""  # nothing written when an id is wrong


def test_threads_saved_without_a_record_use_the_list_given(saver: Any) -> None:
    """Threads saved before ahora recorded the tools offered (or by other code)."""
    from langgraph.checkpoint.base import empty_checkpoint

    def save(thread: str, messages: list[Any]) -> None:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"messages": messages}
        checkpoint["channel_versions"] = {"messages": 1}
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        saver.put(config, checkpoint, {"source": "loop", "step": 0}, {"messages": 1})

    call = AIMessage("", tool_calls=[{"name": "echo_config", "args": {"key": "k"}, "id": "c1"}])
    save("old-plain", [HumanMessage("Hi"), AIMessage("Hello!")])
    save("old-call", [HumanMessage("Key?"), call, ToolMessage("k = 1", tool_call_id="c1")])
    save("old-empty", [HumanMessage("Hi")])
    skipped: list[tuple[str, str]] = []
    out = io.StringIO()
    count = export_threads(
        saver,
        None,
        out,
        secrets=known_secrets(settings=get_settings()),
        tools=[opening_hours],
        on_skip=lambda *a: skipped.append(a),
    )
    assert count == 1
    assert sorted(skipped) == [
        ("old-call", "calls tools not in the tool list: echo_config"),
        ("old-empty", "no assistant reply"),
    ]
    (example,) = validate_jsonl(out.getvalue())
    assert [t["function"]["name"] for t in example["tools"]] == ["opening_hours"]
    out = io.StringIO()
    assert (
        export_threads(saver, ["old-plain"], out, secrets=known_secrets(settings=get_settings()))
        == 1
    )
    assert "tools" not in validate_jsonl(out.getvalue())[0]


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
    assert example["tools"] == [schema] and example["parallel_tool_calls"] is True
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
    assert "Exported 3 conversation(s)" in result.output and "Skipped" not in result.output
    text = target.read_text(encoding="utf-8")
    examples = validate_jsonl(text)
    flour = next(e for e in examples if "flour" in e["messages"][1]["content"])
    assert flour["messages"][2]["tool_calls"][0]["function"]["name"] == "calculator"
    assert "187.5" in flour["messages"][3]["content"]
    assert SENTINEL not in text
    system = examples[0]["messages"][0]
    assert system["role"] == "system"
    assert "You help ONLY with these topics" in system["content"]  # chef's instructions
    assert "Today is" in system["content"]  # ahora's dated system prompt
    # Each thread with the tools it was offered, not the profile's (chef's are web_search,
    # read_page and calculator).
    assert [t["function"]["name"] for t in flour["tools"]] == ["calculator"]
    museums = next(e for e in examples if "Louvre" in e["messages"][1]["content"])
    assert [t["function"]["name"] for t in museums["tools"]] == ["opening_hours", "echo_config"]

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
    export_threads(
        _pasted(value), None, out, secrets=known_secrets(settings=get_settings()), tools=TOOLS
    )
    assert value not in out.getvalue() and REDACTED in out.getvalue()
    validate_jsonl(out.getvalue())


def test_a_postgres_url_and_its_password_are_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahora.settings import Settings

    url = "postgresql://ahora:Pa55word-for-db@db.example:5432/threads"
    secrets = known_secrets(settings=Settings(postgres_url=url), environ={})
    assert secrets == [url, "Pa55word-for-db"]  # longest first: the URL before its part
    out = io.StringIO()
    export_threads(_pasted(f"{url} and Pa55word-for-db"), None, out, secrets=secrets)
    text = out.getvalue()
    assert "Pa55word" not in text and "db.example" not in text
    assert f"{REDACTED} and {REDACTED}" in text


def test_short_and_ordinary_values_are_not_scrubbed() -> None:
    """Scrubbing 'yes' or '1' would garble ordinary words; 8 characters is the floor."""
    from ahora.settings import Settings

    env = {
        "SHORT_TOKEN": "abc1234",  # 7 characters: too short to scrub
        "EIGHT_TOKEN": "abcd1234",  # 8: scrubbed
        "LANG": "en_US.UTF-8",  # not secret-named
        "EDITOR_PATH": "/usr/bin/vim-nox",
    }
    assert known_secrets(settings=Settings(), environ=env) == ["abcd1234"]
    settings = Settings(openai_api_key="sk-open-12345678", anthropic_api_key="sk-1234")
    assert known_secrets(settings=settings, environ={}) == ["sk-open-12345678"]


def test_redact_walks_nested_values_and_leaves_the_rest() -> None:
    from ahora.export import redact

    value = {"a": ["x sk-12345678 y", {"b": "sk-12345678"}], "n": 3, "none": None}
    assert redact(value, ["sk-12345678"]) == {
        "a": [f"x {REDACTED} y", {"b": REDACTED}],
        "n": 3,
        "none": None,
    }


# --- faithful to what the model was offered, whatever the tools' source -----------------


def _mcp_config(home: Path) -> None:
    server = Path(__file__).parent / "fixtures" / "mcp_server.py"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f"[mcp_servers.demo]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(server))}]\n"
    )


def test_export_writes_exactly_the_tools_each_thread_was_offered(
    runner: CliRunner,
    model_server: Any,
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ahora.cli.main import app
    from ahora.testing.openai_server import last_message_is_tool_result

    monkeypatch.chdir(tmp_path)  # away from the repository's ./tools
    calls = {
        "calc": ("calculator", {"expression": "2+2"}),
        "greet": ("greet", {"name": "Ada"}),
        "docs": ("search_docs", {"query": "refund"}),
        "mcp": ("add", {"a": 2, "b": 40}),
    }

    def rule(body: dict[str, Any]) -> Any:
        if last_message_is_tool_result(body):
            return "Done."
        name, args = calls[body["messages"][-1]["content"]]
        return {"tool_calls": [{"name": name, "arguments": args}]}

    srv = model_server(rule=rule)
    local = tmp_path / "mytools"
    local.mkdir()
    (local / "greet.py").write_text(
        "from langchain_core.tools import tool\n\n\n"
        "@tool\ndef greet(name: str) -> str:\n"
        '    """Greet someone by name."""\n'
        '    return f"Hello, {name}!"\n'
    )
    docs = tmp_path / "handbook"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nWithin 14 days.\n")
    _mcp_config(isolated_env)
    asks = {
        "calc": ["--tools", "calculator"],
        "greet": ["--tools-dir", str(local)],  # the profile's tools and greet
        "docs": ["--tools", "calculator", "--docs", str(docs)],
    }
    # MCP's stdio client needs real file descriptors, which CliRunner replaces (and the
    # registry keeps the failure): this thread comes first, from an app, into the same
    # store (Agent(threads=True)).
    before = len(srv.requests)
    agent = Agent(tools=["add", "clock"], threads=True)
    assert agent.ask("mcp").text == "Done."
    agent.close()
    sent = {"mcp": srv.requests[before]["tools"]}
    for question, flags in asks.items():
        before = len(srv.requests)
        done = runner.invoke(app, ["ask", *flags, question])
        assert done.exit_code == 0, done.output
        sent[question] = srv.requests[before]["tools"]  # what the model was offered
    assert "greet" in {t["function"]["name"] for t in sent["greet"]}
    asks["mcp"] = []

    target = tmp_path / "train.jsonl"
    result = runner.invoke(app, ["threads", "export", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "Exported 4 conversation(s)" in result.output and "Skipped" not in result.output
    examples = validate_jsonl(target.read_text(encoding="utf-8"))
    by_question = {e["messages"][1]["content"]: e for e in examples}
    assert set(by_question) == set(asks)
    for question, example in by_question.items():
        names = [t["function"]["name"] for t in example["tools"]]
        assert names == [t["function"]["name"] for t in sent[question]], question
        for ours, theirs in zip(example["tools"], sent[question], strict=True):
            assert ours["function"]["parameters"] == theirs["function"]["parameters"]
        call = next(m for m in example["messages"] if m.get("tool_calls"))
        assert call["tool_calls"][0]["function"]["name"] == calls[question][0]


def test_export_never_writes_through_a_planted_link(
    runner: CliRunner, model_server: Any, tmp_path: Path
) -> None:
    from ahora.cli.main import app

    model_server(["Paris."])
    assert runner.invoke(app, ["ask", "Capital of France?"]).exit_code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "train.jsonl"
    (tmp_path / "train.jsonl.partial").symlink_to(victim)  # the old temporary name
    result = runner.invoke(app, ["threads", "export", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "keep me"
    assert "Paris." in target.read_text()
    # A link at the target itself is replaced, not followed.
    target.unlink()
    target.symlink_to(victim)
    assert runner.invoke(app, ["threads", "export", "-o", str(target)]).exit_code == 0
    assert victim.read_text() == "keep me" and not target.is_symlink()
    assert "Paris." in target.read_text()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert leftovers == ["train.jsonl.partial"]  # only the planted link


_GOOD = {
    "messages": [
        {"role": "user", "content": "Hours?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "t", "arguments": "{}"}},
                {"id": "b", "type": "function", "function": {"name": "t", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "a", "content": "9-18"},
        {"role": "tool", "tool_call_id": "b", "content": "9-18"},
        {"role": "assistant", "content": "9 to 18."},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "t",
                "description": "",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ],
    "parallel_tool_calls": True,
}


def _broken(change: Callable[[dict[str, Any]], Any]) -> str:
    example = json.loads(json.dumps(_GOOD))
    change(example)
    return json.dumps(example) + "\n"


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.update(parallel_tool_calls=False),  # two calls in one message
        lambda e: e["messages"].pop(3),  # a call never answered
        lambda e: e["tools"].append(e["tools"][0]),  # a tool listed twice
        lambda e: e["tools"][0]["function"].update(name="has space"),
        lambda e: e["messages"][1]["tool_calls"][0]["function"].update(name="other"),
        lambda e: e["messages"][1]["tool_calls"][0]["function"].update(arguments={}),
        lambda e: e.pop("tools"),  # parallel_tool_calls without tools
        lambda e: e.update(messages=e["messages"][:1]),  # nothing to learn from
        lambda e: e["messages"][4].update(weight=2),
    ],
)
def test_the_validator_rejects_what_openai_rejects(change: Callable[[dict[str, Any]], Any]) -> None:
    validate_line(json.dumps(_GOOD) + "\n")
    with pytest.raises((AssertionError, KeyError)):
        validate_line(_broken(change))


def test_exported_lines_carry_no_raw_terminal_controls() -> None:
    """``ahora threads export`` to a terminal must not obey what a page wrote: C1 and
    bidi controls leave as ``\\u`` escapes, and the data reads back the same."""
    hostile = "Total \u202eevil\u202c \x9b31m red \x7f done"
    saver = InMemorySaver()
    graph = create_agent(ScriptedChatModel(replies=[hostile]), TOOLS, checkpointer=saver)
    graph.invoke({"messages": [HumanMessage("Hi é")]}, {"configurable": {"thread_id": "t"}})
    out = io.StringIO()
    assert export_threads(saver, ["t"], out, secrets=[]) == 1
    text = out.getvalue()
    assert not any(c in text for c in "\u202e\u202c\x9b\x7f")
    assert "é" in text  # ordinary text stays readable
    (example,) = validate_jsonl(text)
    assert example["messages"][-1]["content"] == hostile


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


def test_cli_export_keeps_threads_that_used_a_local_or_mcp_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default profile's agent has every available tool (plugins, local tool files,
    MCP servers), so its threads export with those tools, not skipped as unknown."""
    tools_dir = tmp_path / "mytools"
    tools_dir.mkdir()
    (tools_dir / "shout.py").write_text(
        "from langchain_core.tools import tool\n\n\n"
        "@tool\ndef shout(text: str) -> str:\n"
        '    """Repeat the text in capitals."""\n'
        "    return text.upper()\n"
    )
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(tools_dir))
    saver = open_checkpointer(get_settings())
    try:
        model = ScriptedChatModel(replies=[tool_call("shout", {"text": "hi"}), "HI it is."])
        graph = create_agent(model, None, checkpointer=saver)
        graph.invoke({"messages": [HumanMessage("Shout hi")]}, {"configurable": {"thread_id": "x"}})
    finally:
        close_checkpointer(saver)
    result = CliRunner().invoke(_cli(), ["export", "x", "--no-system-prompt"])
    assert result.exit_code == 0, result.output
    assert "Exported 1 conversation(s)" in result.output
    line = next(line for line in result.output.splitlines() if line.startswith("{"))
    assert "shout" in {t["function"]["name"] for t in json.loads(line)["tools"]}


def test_mcp_server_credentials_are_scrubbed() -> None:
    """An MCP tool may echo its server's token (a header, an env var) into a result."""
    from ahora.settings import Settings

    servers = {
        "gh": {"command": "npx", "args": ["-y", "gh"], "env": {"GITHUB_TOKEN": "ghp-secret-1"}},
        "web": {"url": "https://mcp.example/", "headers": {"Authorization": "Bearer tok-secret-2"}},
    }
    secrets = known_secrets(settings=Settings(mcp_servers=servers), environ={})
    assert {"ghp-secret-1", "Bearer tok-secret-2", "tok-secret-2"} <= set(secrets)
    assert "npx" not in secrets and "https://mcp.example/" not in secrets


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
