"""Thread storage: a read-only data directory is one clear error; a briefly locked
database is waited for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.faults import FAULTS, assert_survived


@pytest.mark.parametrize("fault", ["data_dir_read_only_threads", "threads_db_briefly_locked"])
def test_fault_is_survived(fault: str, tmp_path: Path) -> None:
    """Thread storage that cannot be written fails clearly or waits."""
    assert_survived(FAULTS[fault], tmp_path)
