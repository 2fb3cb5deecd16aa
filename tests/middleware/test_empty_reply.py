"""An empty model reply is retried with a nudge, then replaced by a note."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.faults import FAULTS, assert_survived


def test_fault_is_survived(tmp_path: Path) -> None:
    """An empty reply is retried once, then answered with a note."""
    assert_survived(FAULTS["empty_reply_twice"], tmp_path)
