"""``ahora docs`` through typer's CliRunner, and its import weight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ahora.cli.docs_cmd import app

runner = CliRunner()


def test_add_list_search_rm(docs: Path, isolated_env: Path) -> None:
    (docs / "blob.bin").write_bytes(b"\x00\x01\x02")
    result = runner.invoke(app, ["add", str(docs)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Indexed {docs.resolve()}: 4 added, 0 updated, 0 unchanged")
    assert "1 skipped" in result.stdout
    assert "skipped blob.bin: binary file" in result.stdout
    assert (isolated_env / "docs.sqlite").is_file()

    again = runner.invoke(app, ["add", str(docs)])
    assert "0 added, 0 updated, 4 unchanged, 0 removed, 1 skipped; 0 chunks" in again.stdout

    listing = runner.invoke(app, ["list"])
    assert listing.exit_code == 0
    assert f"{docs.resolve()}  4 files," in listing.stdout
    assert "1 skipped" in listing.stdout

    found = runner.invoke(app, ["search", "paid leave"])
    assert found.exit_code == 0
    assert found.stdout.startswith("[1] handbook/refunds.md:12")

    assert runner.invoke(app, ["search", "zzzzqx"]).stdout == "No matches.\n"

    removed = runner.invoke(app, ["rm", str(docs)])
    assert removed.exit_code == 0
    assert "Removed" in removed.stdout
    assert "No folders indexed" in runner.invoke(app, ["list"]).stdout


def test_missing_folder_is_exit_2_without_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["add", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {tmp_path / 'nope'} does not exist"
    assert result.stdout == ""
    assert result.exception is None or isinstance(result.exception, SystemExit)

    gone = runner.invoke(app, ["rm", str(tmp_path)])
    assert gone.exit_code == 2
    assert "is not indexed" in gone.stderr


def test_docs_commands_do_not_import_langchain(docs: Path) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ahora.cli.docs_cmd import app\n"
        f"r = CliRunner().invoke(app, ['add', {str(docs)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(app, ['search', 'refund'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('langchain', 'langgraph')))\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "args",
    [["docs", "list"], ["docs", "add", "."], ["docs", "rm", "."], ["docs", "search", "x"]],
)
def test_every_docs_command_says_one_line_when_the_config_does_not_load(
    args: list[str], isolated_env: Path
) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text("max_steps = 1x\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ahora", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: config file ")
    assert "config.toml" in lines[0]
