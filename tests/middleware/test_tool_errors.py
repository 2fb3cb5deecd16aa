"""Errors inside tools, and calls to tools that do not exist, reach the model as messages."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.faults import FAULTS, assert_survived


def test_fault_is_survived(tmp_path: Path) -> None:
    """A call to a tool that does not exist is answered, not raised."""
    assert_survived(FAULTS["unknown_tool"], tmp_path)
