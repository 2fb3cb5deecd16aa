"""``ahora tools`` and ``ahora models``: what is available, drawn as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ahora.cli.main import app


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
    result = runner.invoke(app, ["tools"])
    assert result.exit_code == 0, result.output
    assert "Read arr[i] from [b]tables[/b]." in result.stdout
