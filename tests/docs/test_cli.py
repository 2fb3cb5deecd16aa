"""``ahora docs`` through typer's CliRunner, and its import weight."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ahora.cli.docs_cmd import app
from ahora.testing.openai_server import OpenAIServer, tool_then_answer

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


def _tool_names(body: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in body.get("tools", [])}


def test_indexed_documents_make_search_docs_a_default_tool(
    docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ahora.cli.main import app as main_app

    rule = tool_then_answer("search_docs", {"query": "paid leave"}, answer="25 days.")
    with OpenAIServer(rule=rule) as srv:
        monkeypatch.setenv("AHORA_MODEL", "openai:test-model")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        before = runner.invoke(main_app, ["tools"])
        assert before.exit_code == 0 and "search_docs" not in before.stdout
        assert runner.invoke(main_app, ["docs", "add", str(docs)]).exit_code == 0

        listed = runner.invoke(main_app, ["tools"])
        assert re.search(r"^search_docs +Search the user's own documents", listed.stdout, re.M)

        asked = runner.invoke(main_app, ["ask", "How much paid leave?"])
        assert asked.exit_code == 0, asked.output
        assert asked.stdout == "25 days.\n"
        assert {"search_docs", "web_search"} <= _tool_names(srv.requests[0])
        tool_result = srv.requests[1]["messages"][-1]["content"]
        assert "handbook/refunds.md:12" in tool_result  # it searched the indexed folder

        only = runner.invoke(main_app, ["ask", "--tools", "search_docs", "Paid leave?"])
        assert only.exit_code == 0, only.output
        assert _tool_names(srv.requests[2]) == {"search_docs"}


@pytest.mark.slow
def test_search_on_a_terminal_wraps_passages_at_words(docs: Path) -> None:
    from tests.cli.screen import screen_of

    (docs / "long.md").write_text(
        "Refund requests for annual subscriptions are reviewed by the billing team "
        "within five working days, and approved refunds reach the original card.\n"
    )
    assert runner.invoke(app, ["add", str(docs)]).exit_code == 0
    lines = screen_of("docs", "search", "refund", cols=80)
    assert lines[0].startswith("[1] ")
    passage = [line for line in lines if not line.startswith("[")]
    assert passage and all(line.startswith("    ") and len(line) <= 80 for line in passage)
    words = " ".join(line.strip() for line in lines).split()
    assert "working" in words and "subscriptions" in words  # no word cut at the edge
