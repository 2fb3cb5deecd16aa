"""What ahora stores is its user's alone (issue 18, item 11): the data folder is 0700,
the threads, documents and chat-history files 0600, also when an older ahora left
them 0644 in a 0755 folder; a mode is only ever narrowed."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ahora import Agent
from ahora.docs.index import DocIndex
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what most systems give a user
    yield
    os.umask(old)


def _ask(home: Path) -> None:
    agent = Agent(
        ScriptedChatModel(replies=["Hi."]), [], threads=True, settings=Settings(home=home)
    )
    assert agent.ask("hello").text == "Hi."


def _index(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir(exist_ok=True)
    (folder / "a.md").write_text("# Private\n\nmy salary is 1 euro\n")
    index = DocIndex(home / "docs.sqlite")
    index.add(folder)
    index.close()


def test_new_data_folder_and_files_are_private(tmp_path: Path) -> None:
    home = tmp_path / "data" / "ahora"
    _ask(home)
    _index(home, tmp_path)
    assert mode(home) == 0o700
    stored = [p for p in home.iterdir() if p.name.startswith(("threads.sqlite", "docs.sqlite"))]
    assert {"threads.sqlite", "docs.sqlite"} <= {p.name for p in stored}
    for path in stored:  # with their -wal and -shm files
        assert mode(path) == 0o600, path


def test_files_an_older_ahora_left_open_are_narrowed(tmp_path: Path) -> None:
    home = tmp_path / "ahora"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    for name in ("threads.sqlite", "docs.sqlite"):
        (home / name).touch()
        os.chmod(home / name, 0o644)
    _ask(home)
    _index(home, tmp_path)
    assert mode(home) == 0o700
    assert mode(home / "threads.sqlite") == 0o600 and mode(home / "docs.sqlite") == 0o600


def test_chat_history_file_is_private_and_modes_only_narrow(tmp_path: Path) -> None:
    from ahora.settings import private_file  # what cli/chat_cmd.py opens the history with

    history = private_file(tmp_path / "home" / "chat_history")
    assert mode(history) == 0o600 and mode(history.parent) == 0o700
    read_only = tmp_path / "ro"
    read_only.touch()
    os.chmod(read_only, 0o444)
    private_file(read_only)
    assert mode(read_only) == 0o400  # narrowed, never made writable
