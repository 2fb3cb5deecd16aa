"""A tool that hangs times out; the model is told and the run goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.faults import FAULTS, assert_survived


@pytest.mark.parametrize("fault", ["tool_hangs", "async_tool_hangs"])
def test_fault_is_survived(fault: str, tmp_path: Path) -> None:
    """A hanging tool times out and the model is told."""
    assert_survived(FAULTS[fault], tmp_path)
