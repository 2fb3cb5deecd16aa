"""``ahora agents`` on an 80-column terminal (pexpect, read through pyte) and piped."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.screen import screen_of

pytestmark = pytest.mark.slow


def test_agents_wrap_at_word_boundaries_on_a_terminal() -> None:
    lines = screen_of("agents", cols=80)
    assert lines[0].startswith("assistant ")
    words = set(" ".join(lines).split())
    for line in lines:
        assert len(line) <= 80
    # Every word of the description arrives whole (none broken across lines).
    assert {"General", "assistant", "calculator,", "servers;", "researcher."} <= words
    assert any(line.strip().startswith("built-in: ") for line in lines)


def test_piped_agents_are_one_line_each_without_padding() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ahora", "agents"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)
    assert any(line.startswith("assistant ") and "[built-in: " in line for line in lines)
