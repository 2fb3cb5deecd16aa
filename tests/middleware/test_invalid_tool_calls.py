"""Tool calls whose arguments are not valid JSON go back to the model as errors."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.faults import FAULTS, assert_survived


def test_fault_is_survived(tmp_path: Path) -> None:
    """Malformed tool-call JSON goes back to the model."""
    assert_survived(FAULTS["malformed_tool_json"], tmp_path)
