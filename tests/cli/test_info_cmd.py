"""``ahora tools`` on a terminal (pexpect at 80 and 200 columns, read through pyte)
and piped: whole descriptions wrapped at word boundaries, no padding in a pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ahora.cli.main import app
from tests.cli.screen import screen_of

pytestmark = pytest.mark.slow

LONG_TOOL = '''
from langchain_core.tools import tool


@tool
def long_winded(text: str) -> str:
    """DESCRIPTION"""
    return text
'''.replace(
    "DESCRIPTION",
    "Repeat the text back after thinking about it for a while, "
    "which takes a long sentence to describe properly.",
)


@pytest.fixture
def tools_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mytools"
    folder.mkdir()
    (folder / "long_winded.py").write_text(LONG_TOOL, encoding="utf-8")
    return folder


def test_tools_on_a_terminal_wrap_at_words(tools_dir: Path) -> None:
    lines = screen_of("tools", "--tools-dir", str(tools_dir), cols=80)
    text = "\n".join(lines)
    assert "long_winded" in text and "web_search" in text
    row = next(i for i, line in enumerate(lines) if line.startswith("long_winded"))
    words = " ".join(line.strip() for line in lines[row : row + 3])
    assert "takes a long sentence to describe properly." in words  # whole, not cut
    for line in lines:
        assert len(line) <= 80
        assert not line.endswith("-")


def test_piped_tools_are_one_unpadded_line_each(tools_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ahora", "tools", "--tools-dir", str(tools_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)
    row = next(line for line in lines if line.startswith("long_winded"))
    assert "describe properly." in row and "long_winded.py" in row


def test_tools_shows_descriptions_with_brackets(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # ./tools: a short origin, so the description fits
    folder = tmp_path / "tools"
    folder.mkdir()
    (folder / "lookup.py").write_text(
        "from langchain_core.tools import tool\n\n\n"
        "@tool\ndef lookup(key: str) -> str:\n"
        '    """Read arr[i] from [b]tables[/b]."""\n'
        "    return key\n"
    )
    # --tools-dir: naming the folder trusts it (a bare ./tools needs `ahora trust`).
    result = runner.invoke(app, ["tools", "--tools-dir", "tools"])
    assert result.exit_code == 0, result.output
    assert "Read arr[i] from [b]tables[/b]." in result.stdout


def test_piped_tools_are_cleaned_of_control_characters(tmp_path: Path) -> None:
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "evil.py").write_text(
        "from langchain_core.tools import tool\n\n\n@tool\ndef evil(x: str) -> str:\n"
        '    """Say \\x1b[31mred\\x1b[0m things loudly."""\n    return x\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "ahora", "tools", "--tools-dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("evil"))
    assert "\x1b" not in done.stdout and "red" in row  # shown, not obeyed
