"""The compact SQLite store keeps each message once: a step writes what it added, not the
whole conversation again, and the conversation reads back whole from a fresh process."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, RemoveMessage
from langgraph.graph.message import REMOVE_ALL_MESSAGES

from ahora import Agent
from ahora.testing import ScriptedChatModel
from ahora.threads import close_checkpointer, open_sqlite_saver


def _wal(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _turn_bytes(saver: Any, agent: Agent, path: Path, n: int) -> int:
    saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    agent.ask(f"Question {n}? " + "words " * 50, thread="T")
    return _wal(path)


def test_a_turn_writes_what_it_added_however_long_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    saver = open_sqlite_saver(path)
    turns = 300
    replies = [f"Answer {i}: " + "text " * 100 for i in range(turns)]
    agent = Agent(ScriptedChatModel(replies=replies), tools=[], checkpointer=saver)
    early = [_turn_bytes(saver, agent, path, n) for n in range(5)][-1]
    for n in range(5, turns - 1):
        agent.ask(f"Question {n}?", thread="T")
    late = _turn_bytes(saver, agent, path, turns - 1)
    assert late < early * 1.5, (early, late)  # flat, not growing with the conversation
    ((rows,),) = saver.conn.execute("SELECT COUNT(*) FROM ahora_messages").fetchall()
    assert rows == 2 * turns
    ((size,),) = saver.conn.execute("SELECT MAX(length(checkpoint)) FROM checkpoints").fetchall()
    assert size < 4_000  # a reference, not the messages
    close_checkpointer(saver)
    fresh = open_sqlite_saver(path)  # another process, as far as the saver knows
    state = Agent(ScriptedChatModel(replies=[]), tools=[], checkpointer=fresh).graph.get_state(
        {"configurable": {"thread_id": "T"}}
    )
    messages = state.values["messages"]
    assert len(messages) == 2 * turns
    assert messages[-1].text.startswith(f"Answer {turns - 1}:")
    close_checkpointer(fresh)


def test_replacing_messages_rewrites_from_the_first_change(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    saver = open_sqlite_saver(path)
    agent = Agent(ScriptedChatModel(replies=["one", "two", "three"]), tools=[], checkpointer=saver)
    for question in ("a", "b"):
        agent.ask(question, thread="T")
    config: Any = {"configurable": {"thread_id": "T"}}
    kept = agent.graph.get_state(config).values["messages"][:2]  # undo the second turn
    agent.graph.update_state(
        config, {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *kept]}, as_node="model"
    )
    agent.ask("c", thread="T")
    close_checkpointer(saver)
    fresh = open_sqlite_saver(path)
    got = fresh.get_tuple(config).checkpoint["channel_values"]["messages"]
    assert [m.text for m in got] == ["a", "one", "c", "three"]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM ahora_messages").fetchone() == (4,)
    conn.close()
    close_checkpointer(fresh)


def test_history_keeps_lists_inside_its_checkpoints(tmp_path: Path) -> None:
    """With keep_history every checkpoint stands alone (time travel reads old ones)."""
    saver = open_sqlite_saver(tmp_path / "threads.sqlite", keep_history=True)
    agent = Agent(ScriptedChatModel(replies=["one", "two"]), tools=[], checkpointer=saver)
    agent.ask("a", thread="T")
    agent.ask("b", thread="T")
    history = list(agent.graph.get_state_history({"configurable": {"thread_id": "T"}}))
    assert [len(s.values.get("messages", [])) for s in history][:3] == [4, 3, 2]
    assert saver.conn.execute("SELECT COUNT(*) FROM ahora_messages").fetchone() == (0,)
    assert isinstance(history[-2].values["messages"][0], HumanMessage)
    close_checkpointer(saver)


def test_listing_reads_messages_back_and_deleting_a_thread_drops_them(tmp_path: Path) -> None:
    from ahora.threads import ThreadIndex

    path = tmp_path / "threads.sqlite"
    saver = open_sqlite_saver(path)
    agent = Agent(ScriptedChatModel(replies=["one", "two"]), tools=[], checkpointer=saver)
    agent.ask("a", thread="T")
    agent.ask("b", thread="U")
    (listed,) = list(saver.list({"configurable": {"thread_id": "T"}}))
    assert [m.text for m in listed.checkpoint["channel_values"]["messages"]] == ["a", "one"]
    close_checkpointer(saver)
    with ThreadIndex(path) as index:
        index.finish_turn("T", question="a", answer="one")
        index.delete("T")
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT DISTINCT thread_id FROM ahora_messages").fetchall() == [("U",)]
    conn.close()


def test_a_message_given_new_tool_calls_in_place_is_written_again(tmp_path: Path) -> None:
    """LangChain's approval middleware edits a saved AIMessage's tool calls in place."""
    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.base import empty_checkpoint

    path = tmp_path / "threads.sqlite"
    saver = open_sqlite_saver(path)
    call = {"name": "t", "args": {"x": 1}, "id": "c1", "type": "tool_call"}
    ai = AIMessage("", tool_calls=[call], id="ai-1")
    messages = [HumanMessage("q", id="h-1"), ai]

    def put(parent: Any) -> Any:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"messages": messages}
        return saver.put(parent, checkpoint, {"source": "loop", "step": 0}, {})

    config = put({"configurable": {"thread_id": "T", "checkpoint_ns": ""}})
    ai.tool_calls = [{**call, "args": {"x": 2}}]  # as HumanInTheLoopMiddleware does
    put(config)
    close_checkpointer(saver)
    fresh = open_sqlite_saver(path)
    got = fresh.get_tuple({"configurable": {"thread_id": "T"}}).checkpoint["channel_values"]
    assert got["messages"][1].tool_calls[0]["args"] == {"x": 2}
    close_checkpointer(fresh)


def test_reading_back_its_own_checkpoint_reuses_the_messages_unless_changed(
    tmp_path: Path,
) -> None:
    """A turn starts by reading the checkpoint the last one wrote: no decoding again,
    unless a message was given new content since, or another saver wrote the thread."""
    from langgraph.checkpoint.base import empty_checkpoint

    path = tmp_path / "threads.sqlite"
    saver = open_sqlite_saver(path)
    other = open_sqlite_saver(path)
    first = HumanMessage("q", id="h-1")
    messages: list[Any] = [first, HumanMessage("r", id="h-2")]
    decoded: list[Any] = []
    loads = saver.serde.loads_typed
    saver.serde.loads_typed = lambda data: decoded.append(data) or loads(data)  # type: ignore[method-assign]
    thread = {"configurable": {"thread_id": "T", "checkpoint_ns": ""}}

    def put(on: Any, parent: Any) -> Any:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"messages": list(messages)}
        return on.put(parent, checkpoint, {"source": "loop", "step": 0}, {})

    def read() -> list[Any]:
        got = saver.get_tuple({"configurable": {"thread_id": "T"}})
        return list(got.checkpoint["channel_values"]["messages"])

    config = put(saver, thread)
    decoded.clear()
    got = read()
    assert got[0] is first and [m.content for m in got] == ["q", "r"]
    assert [d for d in decoded if d[0] == "msgpack" and b"h-1" in d[1]] == []

    first.content = "edited, not saved"  # in place, after the checkpoint was written
    assert [m.content for m in read()] == ["q", "r"]

    messages = [read()[0], HumanMessage("s", id="h-3")]  # as many messages, another one
    put(other, config)  # another process goes on with the thread
    assert [m.content for m in read()] == ["q", "s"]
    close_checkpointer(other)
    close_checkpointer(saver)


def test_a_list_not_all_messages_with_ids_stays_inside_its_checkpoint(tmp_path: Path) -> None:
    """Only lists of messages with ids are stored apart; a message without an id joining
    a thread already stored apart, or plain dicts, keep the list in the checkpoint."""
    from langgraph.checkpoint.base import empty_checkpoint

    saver = open_sqlite_saver(tmp_path / "threads.sqlite")
    first = HumanMessage("q", id="h-1")

    def put(thread: str, messages: list[Any], parent: str | None = None) -> Any:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"messages": messages}
        conf = {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": parent}
        return saver.put({"configurable": conf}, checkpoint, {"source": "loop", "step": 0}, {})

    def read(thread: str) -> list[Any]:
        got = saver.get_tuple({"configurable": {"thread_id": thread}})
        return list(got.checkpoint["channel_values"]["messages"])

    config = put("T", [first])
    put("T", [first, HumanMessage("no id")], config["configurable"]["checkpoint_id"])
    assert [m.content for m in read("T")] == ["q", "no id"]
    put("D", [{"role": "user", "content": "hi"}])
    assert read("D") == [{"role": "user", "content": "hi"}]
    close_checkpointer(saver)


def test_a_copy_onto_a_thread_read_before_reads_what_the_file_holds(tmp_path: Path) -> None:
    """The remembered messages never answer for a thread whose rows were replaced."""
    from langgraph.checkpoint.base import empty_checkpoint

    path = tmp_path / "threads.sqlite"
    saver = open_sqlite_saver(path)

    def put(thread: str, text: str) -> None:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"messages": [HumanMessage(text, id=f"{thread}-1")]}
        conf = {"thread_id": thread, "checkpoint_ns": ""}
        saver.put({"configurable": conf}, checkpoint, {"source": "loop", "step": 0}, {})

    def read(on: Any) -> list[Any]:
        got = on.get_tuple({"configurable": {"thread_id": "T"}})
        return [m.content for m in got.checkpoint["channel_values"]["messages"]]

    put("S", "from S")
    put("T", "from T")  # T's checkpoint is the newer: it stays T's latest
    assert read(saver) == ["from T"]
    saver.copy_thread("S", "T")
    fresh = open_sqlite_saver(path)
    assert read(saver) == read(fresh)
    close_checkpointer(fresh)
    close_checkpointer(saver)
