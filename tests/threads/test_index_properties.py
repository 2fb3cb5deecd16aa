"""The thread index's lookups and undo, and the in-memory saver's recency, as properties
checked against a plain Python model of what they promise."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from langgraph.checkpoint.base import empty_checkpoint

from ahora.errors import ThreadNotFound
from ahora.threads import ThreadIndex
from ahora.threads.memory_saver import BoundedMemorySaver

# Characters SQL's LIKE treats specially, and ordinary ones.
ID = st.text(alphabet="ab_%\\", min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(ID, min_size=1, max_size=6, unique=True), ID)
@example(["a_", "a_b", "axb"], "a_")  # an exact id that also prefixes another
@example(["ab", "a%b"], "a%")
def test_a_prefix_finds_the_one_thread_whose_id_starts_with_it_literally(
    tmp_path_factory: pytest.TempPathFactory, ids: list[str], ref: str
) -> None:
    with ThreadIndex(tmp_path_factory.mktemp("idx") / "threads.db") as index:
        for thread_id in ids:
            index.finish_turn(thread_id, question=f"q {thread_id}", answer="a")
        literal = [i for i in ids if i.startswith(ref)]
        if ref in ids:  # an exact id wins, even when it prefixes others
            assert index.resolve(ref).id == ref
        elif len(literal) == 1:
            assert index.resolve(ref).id == literal[0]
        else:  # none, or several: never a guess
            with pytest.raises(ThreadNotFound):
                index.resolve(ref)


def test_underscore_and_percent_are_not_wildcards(tmp_path: Path) -> None:
    with ThreadIndex(tmp_path / "threads.db") as index:
        for thread_id in ("axb-1", "a_b-2", "a%c-3"):
            index.finish_turn(thread_id, question="q", answer="a")
        assert index.resolve("a_").id == "a_b-2"  # not also axb-1
        assert index.resolve("a%").id == "a%c-3"  # not every a...
        with pytest.raises(ThreadNotFound, match="no thread"):
            index.resolve("_")
        with pytest.raises(ThreadNotFound, match="no thread"):
            index.resolve("%")


def test_undoing_a_turn_keeps_a_thread_that_has_turns(tmp_path: Path) -> None:
    with ThreadIndex(tmp_path / "threads.db") as index:
        index.finish_turn("old", question="first question", answer="first answer")
        index.finish_turn("old", question="second", answer="second answer")
        index.start_turn("old", "a third, interrupted", None)
        index.drop_unfinished("old")  # the third turn is undone
        info = index.resolve("old")
        assert info.turns == 2 and info.title == "first question"
        assert [t.question for t in index.turns("old")] == ["first question", "second"]
        # A thread whose only turn is undone leaves no empty thread behind.
        index.start_turn("new", "never finished", None)
        assert index.get("new") is not None
        index.drop_unfinished("new")
        assert index.get("new") is None
        assert [t.id for t in index.list()] == ["old"]


# --- the in-memory saver forgets the least recently used thread -----------------------


def _put(saver: BoundedMemorySaver, thread_id: str) -> None:
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    saver.put(config, empty_checkpoint(), {}, {})  # type: ignore[arg-type]


def _read(saver: BoundedMemorySaver, thread_id: str) -> bool:
    return saver.get_tuple({"configurable": {"thread_id": thread_id}}) is not None


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.tuples(st.sampled_from(["put", "read"]), st.sampled_from("abcdef")), max_size=30),
)
def test_the_memory_saver_keeps_exactly_the_most_recently_used_threads(
    limit: int, operations: list[tuple[str, str]]
) -> None:
    saver = BoundedMemorySaver(max_threads=limit)
    model: OrderedDict[str, None] = OrderedDict()  # held threads, least recent first
    for op, thread_id in operations:
        if op == "put":
            _put(saver, thread_id)
            model[thread_id] = None
            model.move_to_end(thread_id)
        else:
            held = thread_id in model
            assert _read(saver, thread_id) == held
            if held:  # a read counts as a use
                model.move_to_end(thread_id)
        while len(model) > limit:
            model.popitem(last=False)
        assert saver.thread_count == len(model)
    for thread_id in "abcdef":
        assert (thread_id in saver.storage) == (thread_id in model)


def test_a_read_keeps_a_thread_that_would_otherwise_be_forgotten() -> None:
    saver = BoundedMemorySaver(max_threads=2)
    _put(saver, "a")
    _put(saver, "b")
    assert _read(saver, "a")  # "a" is now the most recent
    _put(saver, "c")  # "b" goes, not "a"
    assert _read(saver, "a") and not _read(saver, "b") and _read(saver, "c")
