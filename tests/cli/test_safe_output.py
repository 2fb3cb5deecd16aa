"""Hostile text never reaches the terminal as control characters (issue 9, item 1).

A page whose title and text are full of escape sequences (OSC 52 clipboard writes,
OSC 8 fake links, window titles, screen clears, CR overwrites, C1 and bidi controls)
is read by ``ahora ask`` through the loopback model and page servers, on a real
pseudo-terminal (the screen read with pyte, as a VT100 would draw it) and piped; then
``threads show`` replays it, and ``docs add``/``docs search`` meet hostile file names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect
import pyte
import pytest
from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer, tool_then_answer
from tests.fixtures.pages import PageServer

StartServer = Callable[..., OpenAIServer]
AHORA = [sys.executable, "-m", "ahora"]

# What the attacker wants the terminal to obey, as it would be written in a page.
TITLE = (
    "Real title&#x1b;]52;c;cHduZWQ=&#x07;&#x1b;]0;PWNED&#x07;&#x1b;[2J"
    "&#x1b;]8;;https://evil.example/&#x1b;\\Fake link&#x1b;]8;;&#x1b;\\"
    "&#x0d;OVERWRITTEN\u009b31m\u202egnirts"
)
BODY = (
    "The glacier report says the ice retreated 40 metres this year.&#x1b;]52;c;ZXZpbA==&#x07;"
    " Hidden&#x1b;[8m text&#x1b;[0m and a bell&#x07; and a backspace&#x08;&#x08; and"
    " a line overwritten&#x0d;FAKE LINE and \u009d0;PWNED\u009c a C1 title. "
) * 3
PAGE = (
    f"<!DOCTYPE html><html><head><title>{TITLE}</title></head><body>"
    f"<article><h1>Glacier report</h1><p>{BODY}</p><p>{BODY}</p></article></body></html>"
).encode()
ANSWER = (
    "The ice retreated **40 metres**.\x1b]52;c;ZXZpbA==\x07\x1b[2J\rOVERWRITTEN"
    " \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ \u009b2J\u202eevil"
)

# Sequences that must never reach the terminal as such (rich's own codes are other).
OBEYED = ["\x1b]52", "\x1b]0;", "\x1b[2J", "\x1b]8;;https://evil", "\x1b[8m", "\x9b", "\x9d"]
OBEYED += ["\u202e", "\x07", "\x08"]


class HostilePages(PageServer):
    """The pages fixture plus ``/hostile``."""

    def _route(self, h: Any) -> None:
        if h.path == "/hostile":
            self._send(h, 200, "text/html; charset=utf-8", PAGE)
        else:
            super()._route(h)


@pytest.fixture
def hostile_run(model_server: StartServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AHORA_ALLOW_PRIVATE_URLS", "1")
    with HostilePages(ipv6=False) as pages:
        url = pages.url("/hostile")
        model_server(rule=tool_then_answer("read_page", {"url": url}, answer=f"{ANSWER} {url}"))
        yield url


def inert(text: str) -> bool:
    """No control character at all but newline and tab (piped output)."""
    return not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in text) and (
        "\u202e" not in text
    )


def run_in_pty(*args: str) -> tuple[str, pyte.Screen]:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    child = pexpect.spawn(
        AHORA[0], [*AHORA[1:], *args], env=env, encoding="utf-8", timeout=60, dimensions=(60, 200)
    )
    child.expect(pexpect.EOF)
    child.close()
    raw = child.before or ""
    assert child.exitstatus == 0, raw
    screen = pyte.Screen(200, 60)
    stream = pyte.Stream(screen)
    stream.feed(raw.replace("\n", "\r\n"))
    return raw, screen


def screen_text(screen: pyte.Screen) -> str:
    return "\n".join(line.rstrip() for line in screen.display)


@pytest.mark.slow
def test_ask_on_a_terminal_shows_hostile_text_visibly_and_obeys_none_of_it(
    hostile_run: str,
) -> None:
    raw, screen = run_in_pty("ask", "-v", "Summarise the glacier report")
    for seq in OBEYED:
        assert seq not in raw, repr(seq)
    shown = screen_text(screen)
    assert screen.title != "PWNED"
    # Shown visibly (cleaned before rich, so BEL too): in the --verbose preview, the
    # answer, and the Sources list.
    assert "Title: Real title␛]52;c;cHduZWQ=␇␛]0;PWNED␇␛[2J" in shown
    # The answer is cleaned before rich lays it out: BEL and CR are shown too.
    assert "The ice retreated 40 metres.␛]52;c;ZXZpbA==␇␛[2J␍OVERWRITTEN" in shown
    assert "OVERWRITTEN ␛]8;;https://evil.example/␛\\click" in shown
    assert "1. Real title␛]52;c;cHduZWQ=␇␛]0;PWNED␇␛[2J␛]8;;https://evil.example/" in shown
    assert "<U+009B>31m<U+202E>gnirts" in shown
    assert "Traceback" not in shown


def test_ask_piped_writes_no_control_characters(hostile_run: str) -> None:
    done = subprocess.run(
        [*AHORA, "ask", "-v", "Summarise the glacier report"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert inert(done.stdout) and inert(done.stderr)
    assert "The ice retreated **40 metres**.␛]52;c;ZXZpbA==␇␛[2J␍OVERWRITTEN" in done.stdout
    assert "Title: Real title␛]52;c;cHduZWQ=␇␛]0;PWNED␇" in done.stderr  # --verbose preview
    as_json = subprocess.run(
        [*AHORA, "ask", "--json", "Summarise the glacier report"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert inert(as_json.stdout)
    data = json.loads(as_json.stdout)
    assert data["answer"].startswith(ANSWER)  # the data itself is kept, escaped
    shown = subprocess.run(
        [*AHORA, "threads", "show", "last"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0 and inert(shown.stdout)
    assert "Real title␛]52;c;cHduZWQ=" in shown.stdout and "␛]0;PWNED" in shown.stdout
    assert "metres**.␛]52;c;ZXZpbA==" in shown.stdout


@pytest.mark.slow
def test_threads_show_on_a_terminal_replays_nothing_hostile(hostile_run: str) -> None:
    CliRunner().invoke(app, ["ask", "Summarise the glacier report"])
    raw, screen = run_in_pty("threads", "show", "last")
    for seq in OBEYED:
        assert seq not in raw, repr(seq)
    assert "Real title␛]52" in screen_text(screen)
    assert screen.title != "PWNED"


HOSTILE_NAMES = ["evil\x1b]52;c;ZXZpbA==\x07.md", "over\rwritten.txt", "two\nlines\x9b2J.txt"]


def test_docs_add_and_search_show_hostile_file_names_visibly(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in HOSTILE_NAMES:
        (folder / name).write_text("glacier retreat measured at the station\n")
    runner = CliRunner()
    added = runner.invoke(app, ["docs", "add", str(folder)])
    assert added.exit_code == 0, added.output
    found = runner.invoke(app, ["docs", "search", "glacier retreat", "-k", "10"])
    assert found.exit_code == 0, found.output
    listed = runner.invoke(app, ["docs", "list"])
    for result in (added, found, listed):
        assert inert(result.stdout.replace("\r\n", "\n")), repr(result.stdout)
    assert "evil␛]52;c;ZXZpbA==␇.md" in found.stdout
    assert "over␍written.txt" in found.stdout and "two␊lines<U+009B>2J.txt" in found.stdout


EVIL_TOOL = """\
from langchain_core.tools import StructuredTool


def _run(text: str) -> str:
    return text


evil = StructuredTool.from_function(
    _run,
    name="evil_tool",
    description="Looks up\\x1b]52;c;ZXZpbA==\\x07 \\u202eor\\x9b31m\\x1b[2J\\rOVERWRITTEN.",
)
"""


def test_tool_listings_show_a_plugins_hostile_description_visibly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "evil.py").write_text(EVIL_TOOL)
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(folder))
    monkeypatch.setenv("COLUMNS", "400")  # room for the long origin path
    runner = CliRunner()
    table = runner.invoke(app, ["tools"])
    as_json = runner.invoke(app, ["tools", "--json"])
    assert table.exit_code == 0 and as_json.exit_code == 0, table.output + as_json.output
    assert inert(table.stdout) and inert(as_json.stdout)
    assert "Looks up␛]52;c;ZXZpbA==" in table.stdout
    evil = [json.loads(line) for line in as_json.stdout.splitlines() if "evil_tool" in line]
    assert evil[0]["description"].startswith("Looks up\x1b]52;c;ZXZpbA==\x07 \u202eor\x9b")


def test_agents_show_and_list_show_a_hostile_profile_visibly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ahora.settings import data_dir
    from ahora.trust import trust

    (tmp_path / "agents").mkdir()
    path = tmp_path / "agents" / "evil.toml"
    path.write_text(
        'name = "evil"\ndescription = "Helps\\u001b]52;c;ZXZpbA==\\u0007 \\u202eyou\\u009b2J"\n'
        'instructions = "Obey\\u001b[2J\\rthe page."\n'
    )
    runner = CliRunner()
    shown = runner.invoke(app, ["agents", "show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert inert(shown.stdout) and "Helps␛]52;c;ZXZpbA==␇ <U+202E>you<U+009B>2J" in shown.stdout
    assert "Obey␛[2J␍the page." in shown.stdout
    monkeypatch.chdir(tmp_path)
    trust(tmp_path, data_dir())
    listed = runner.invoke(app, ["agents"])
    assert inert(listed.stdout) and "Helps␛]52" in listed.stdout


def test_a_title_cannot_draw_a_fake_source() -> None:
    import io

    from ahora.answer import Answer
    from ahora.cli.console import SafeConsole
    from ahora.cli.render import TerminalRenderer
    from ahora.tools._common import source

    fake = "Real\n2. https://bank.example\u2028\x853. https://bank.example/login"
    buf = io.StringIO()
    console = SafeConsole(file=buf, force_terminal=True, width=200, color_system=None)
    TerminalRenderer(console, quiet=True).show_answer(
        Answer(text="See.", sources=[source("https://a.example/", fake)])
    )
    lines = buf.getvalue().splitlines()
    assert [line for line in lines if line[:2] in ("1.", "2.", "3.")] == [
        "1. Real 2. https://bank.example 3. https://bank.example/login"
    ]
