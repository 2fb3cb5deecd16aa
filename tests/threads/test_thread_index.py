"""The thread index through its public methods: a new process sees saved threads, a
deleted thread leaves no turns behind, and the file is set up to shrink."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from ahora.threads import ThreadIndex, open_sqlite_saver


def _turn(index: ThreadIndex, thread: str, question: str) -> int:
    index.start_turn(thread, question, "test-model")
    return index.finish_turn(thread, question=question, answer=f"answer to {question}")


def test_a_new_index_on_an_existing_file_sees_its_threads(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    writer = ThreadIndex(path)
    _turn(writer, "t1", "first question")
    writer.close()
    reader = ThreadIndex(path)  # another process, later
    assert [t.id for t in reader.list()] == ["t1"]
    assert [t.question for t in reader.turns("t1")] == ["first question"]
    reader.close()


def test_listing_without_a_file_creates_none(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    index = ThreadIndex(path)
    assert index.list() == []
    assert not path.exists()
    index.close()


def test_a_deleted_thread_leaves_no_turns_behind(tmp_path: Path) -> None:
    index = ThreadIndex(tmp_path / "threads.sqlite")
    assert _turn(index, "t1", "one") == 1
    assert _turn(index, "t1", "two") == 2
    _turn(index, "t2", "other")
    index.delete("t1")
    assert index.turns("t1") == []
    assert [t.id for t in index.list()] == ["t2"]
    assert _turn(index, "t1", "again") == 1  # a thread of that id starts afresh
    index.close()


def test_the_file_can_give_space_back(tmp_path: Path) -> None:
    """Deleted threads and replaced checkpoints must not leave the file at its peak size."""
    path = tmp_path / "threads.sqlite"
    index = ThreadIndex(path)
    _turn(index, "t1", "one")
    index.close()
    saver = open_sqlite_saver(tmp_path / "saver.sqlite")
    del saver
    for file in (path, tmp_path / "saver.sqlite"):
        conn = sqlite3.connect(file)
        try:
            assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2, file  # INCREMENTAL
        finally:
            conn.close()


def test_deleting_a_big_thread_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "threads.sqlite"
    index = ThreadIndex(path)
    index.start_turn("big", "q", None)
    index.finish_turn("big", question="q", answer="x" * 2_000_000)
    _turn(index, "small", "q")
    index.compact()
    before = path.stat().st_size
    index.delete("big")
    after = path.stat().st_size + Path(f"{path}-wal").stat().st_size
    assert after < before / 4, (before, after)
    index.close()


def test_a_password_the_driver_echoes_is_hidden_from_four_characters() -> None:
    """Drivers quote bad values back; a password that turns up there is masked too
    (shorter ones are not: masking 'abc' would mangle ordinary words)."""
    from ahora.errors import InvalidSettings
    from ahora.threads import connect_postgres

    with pytest.raises(InvalidSettings) as shown:
        connect_postgres("postgresql://u:abcd@127.0.0.1:1/db?sslmode=abcd")
    reason = str(shown.value).split("(AHORA_POSTGRES_URL): ", 1)[1]  # after the shown URL
    assert "abcd" not in reason and '"***"' in reason
    with pytest.raises(InvalidSettings) as short:
        connect_postgres("postgresql://u:abc@127.0.0.1:1/db?sslmode=abc")
    assert '"abc"' in str(short.value).split("(AHORA_POSTGRES_URL): ", 1)[1]


def test_the_folder_is_created_when_the_first_turn_is_saved(tmp_path: Path) -> None:
    index = ThreadIndex(tmp_path / "not" / "yet" / "threads.sqlite")
    assert _turn(index, "t1", "q") == 1
    assert (tmp_path / "not" / "yet" / "threads.sqlite").exists()
    index.close()


def test_last_on_an_empty_store_and_ambiguous_prefixes_say_so(tmp_path: Path) -> None:
    from ahora.threads import ThreadNotFound

    index = ThreadIndex(tmp_path / "threads.sqlite")
    with pytest.raises(ThreadNotFound, match="no saved threads yet"):
        index.resolve("last")
    for i in range(7):
        _turn(index, f"abc{i}-{'x' * 20}", f"question {i}")
    with pytest.raises(ThreadNotFound) as many:
        index.resolve("abc")
    listed = re.findall(r"abc\d-x+", str(many.value))
    assert len(listed) == 5 and all(len(shown) == 12 for shown in listed)  # 5 ids, 12 chars
    index.close()


def test_a_thread_is_titled_by_its_first_question_folded_and_cut(tmp_path: Path) -> None:
    index = ThreadIndex(tmp_path / "threads.sqlite")
    question = "What   is\nthe " + "long " * 40
    _turn(index, "t1", question)
    [info] = index.list()
    assert info.title == " ".join(question.split())[:80] and len(info.title) == 80
    index.close()
