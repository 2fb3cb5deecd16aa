"""``ahora chat``'s own views on an 80-column terminal (pexpect, read through pyte):
``/tools`` and ``/usage``."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from ahora.testing.openai_server import OpenAIServer
from tests.cli.screen import draw, spawn

pytestmark = pytest.mark.slow


def test_chat_tools_wrap_whole_descriptions_and_usage_says_one_turn(
    model_server: Callable[..., OpenAIServer],
) -> None:
    model_server(["Paris."])
    child = spawn("chat", cols=80, rows=60)
    child.logfile_read = seen = io.StringIO()
    child.expect("/help for commands")
    child.expect("›")
    child.sendline("/tools")
    child.expect("clock")
    child.expect("›")
    child.sendline("Capital of France?")
    child.expect("Paris.")
    child.expect("›")
    child.sendline("/usage")
    child.expect("output token")
    child.expect("›")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    lines = draw(seen.getvalue(), cols=80, rows=60)
    tools_at = next(i for i, line in enumerate(lines) if line.startswith("web_search"))
    text = " ".join(line.strip() for line in lines[tools_at : tools_at + 2])
    # The whole first sentence, wrapped at a word; not the docstring's first line,
    # which stops mid-sentence ("... Read a result in full").
    assert text == (
        "web_search  Search the web for current information: news, facts, prices, "
        "schedules, documentation."
    )
    assert lines[tools_at + 2].startswith("read_page ")
    assert all(len(line) <= 80 for line in lines)
    assert any(line.startswith("1 turn · ") for line in lines), lines


def test_ctrl_c_while_a_cancelled_turn_winds_down_drops_the_question_not_the_chat(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The next question waits for the cancelled turn; Ctrl-C then must not end the chat."""
    from types import SimpleNamespace
    from typing import Any, cast

    from rich.console import Console

    from ahora.cli.chat_cmd import Chat

    asked: list[str] = []

    def wait(timeout: float | None = None) -> bool:
        raise KeyboardInterrupt

    session = SimpleNamespace(busy=True, wait=wait, ask=lambda q, **kw: asked.append(q) or [])
    chat = Chat(
        cast(Any, session), Console(file=io.StringIO()), cast(Any, None), False, io.StringIO()
    )
    try:
        chat.turn("hello")
    except KeyboardInterrupt:
        pytest.fail("the second Ctrl-C ended the chat")
    assert asked == []
    assert "Not asked: the cancelled turn is still stopping." in capsys.readouterr().err


def test_verbose_docs_notes_show_a_hostile_folder_name_cleaned(
    tmp_path: Path, model_server: Callable[..., OpenAIServer]
) -> None:
    from typer.testing import CliRunner

    from ahora.cli.main import app

    model_server(["Hi."])
    folder = tmp_path / "notes\x1b]0;PWNED\x07"
    folder.mkdir()
    (folder / "a.md").write_text("# A\nflour\n")
    result = CliRunner().invoke(app, ["chat", "-v", "--docs", str(folder)], input="/exit\n")
    assert result.exit_code == 0, result.output
    assert "notes␛]0;PWNED␇" in result.output
    assert "\x1b" not in result.output
