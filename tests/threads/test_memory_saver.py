"""``Agent()`` without a checkpointer keeps a bounded number of conversations."""

from __future__ import annotations

import pytest

from ahora import Agent
from ahora.errors import InvalidSettings
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel
from ahora.threads.memory_saver import DEFAULT_MAX_THREADS, BoundedMemorySaver


def echo(text: str) -> str:
    """Echo the text back."""
    return text


def agent(memory_threads: int, replies: list[str]) -> Agent:
    settings = Settings.load({}, memory_threads=memory_threads)
    return Agent(ScriptedChatModel(replies=replies), [echo], settings=settings)


def seen_by_model(a: Agent, call: int) -> list[str]:
    model = a.model
    assert isinstance(model, ScriptedChatModel)
    return [str(m.content) for m in model.requests[call] if m.type == "human"]


def test_the_default_agent_keeps_at_most_the_configured_number_of_threads() -> None:
    a = agent(3, [f"answer {i}" for i in range(20)])
    assert isinstance(a.checkpointer, BoundedMemorySaver)
    assert Settings.load({}).memory_threads == DEFAULT_MAX_THREADS == 1_000
    for name in "abcde":
        a.ask(f"hello {name}", thread=name)
    saver = a.checkpointer
    assert saver.thread_count == 3
    assert set(saver.storage) == {"c", "d", "e"}
    assert not any(key[0] in "ab" for key in saver.blobs)  # their data went too
    # A forgotten thread starts afresh; a kept one goes on.
    a.ask("again a", thread="a")
    assert seen_by_model(a, 5) == ["again a"]
    a.ask("again e", thread="e")
    assert seen_by_model(a, 6) == ["hello e", "again e"]


def test_the_least_recently_used_thread_goes_first() -> None:
    a = agent(2, [f"answer {i}" for i in range(20)])
    a.ask("one", thread="x")
    a.ask("two", thread="y")
    a.ask("three", thread="x")  # x is now the most recent
    a.ask("four", thread="z")  # so y goes
    assert set(a.checkpointer.storage) == {"x", "z"}  # type: ignore[attr-defined]
    a.graph.get_state({"configurable": {"thread_id": "x"}})  # reading counts as use
    a.ask("five", thread="w")  # so z goes
    assert set(a.checkpointer.storage) == {"x", "w"}  # type: ignore[attr-defined]


def test_memory_stays_flat_past_the_bound() -> None:
    a = agent(10, [f"answer {i}" for i in range(200)])
    for i in range(200):
        a.ask("hi", thread=f"t{i}")
    saver = a.checkpointer
    assert isinstance(saver, BoundedMemorySaver)
    assert len(saver.storage) == 10
    assert {key[0] for key in saver.blobs} == {f"t{i}" for i in range(190, 200)}
    assert {key[0] for key in saver.writes} <= {f"t{i}" for i in range(190, 200)}


@pytest.mark.parametrize("bad", [0, -1, "many"])
def test_a_bad_bound_is_refused_clearly(bad: object) -> None:
    with pytest.raises(InvalidSettings, match="memory_threads"):
        Settings.load({"AHORA_MEMORY_THREADS": str(bad)}) if isinstance(bad, str) else agent(
            bad,  # type: ignore[arg-type]
            [],
        )


def _blob_bytes(saver: BoundedMemorySaver, thread: str) -> int:
    return sum(len(v[1]) for k, v in saver.blobs.items() if k[0] == thread)


def test_a_long_thread_keeps_only_its_latest_checkpoint() -> None:
    a = agent(10, [f"answer number {i}" for i in range(40)])
    saver = a.checkpointer
    assert isinstance(saver, BoundedMemorySaver)
    for i in range(10):
        a.ask(f"question number {i}", thread="long")
    at_ten = _blob_bytes(saver, "long")
    for i in range(10, 30):
        a.ask(f"question number {i}", thread="long")
    assert list(saver.storage["long"]) == [""]
    assert len(saver.storage["long"][""]) == 1  # one checkpoint, not one per run
    # Linear in the thread's length (3x the turns, about 3x the bytes), not quadratic.
    assert _blob_bytes(saver, "long") < 4 * at_ten
    assert seen_by_model(a, 29) == [f"question number {i}" for i in range(30)]


def test_a_pruned_checkpoint_is_refused_not_read_as_an_empty_thread() -> None:
    from ahora.errors import StaleCheckpoint

    a = agent(10, ["one", "two"])
    a.ask("first", thread="t")
    first = a.graph.get_state({"configurable": {"thread_id": "t"}}).config
    a.ask("second", thread="t")
    with pytest.raises(StaleCheckpoint, match="only the latest is kept"):
        a.graph.get_state(first)


def test_keep_history_keeps_every_checkpoint() -> None:
    settings = Settings.load({}, keep_history=True)
    a = Agent(ScriptedChatModel(replies=["one", "two"]), [echo], settings=settings)
    a.ask("first", thread="t")
    first = a.graph.get_state({"configurable": {"thread_id": "t"}}).config
    a.ask("second", thread="t")
    assert [m.content for m in a.graph.get_state(first).values["messages"]] == ["first", "one"]
