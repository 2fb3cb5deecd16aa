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
    assert many.endswith("a58=58, a59=59)")


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


# --- the spoofing corpus (benchmarks/reliability.py replays it) -------------------------

ERASE = "\r\x1b[2K\x1b[1A\x1b[2K"
HARMLESS = 'calculator(expression="2+2")'
SPOOFS: list[tuple[str, dict[str, object]]] = [
    ("arg name erases the line", {"name": "read_page", "args": {"url": URL, ERASE: "x"}}),
    (
        "arg name draws a harmless call",
        {"name": "read_page", "args": {f"{ERASE}? Allow {HARMLESS}": 1}},
    ),
    (
        "arg value erases the line",
        {"name": "read_page", "args": {"url": f"{URL}{ERASE}? Allow {HARMLESS}"}},
    ),
    ("tool name erases the line", {"name": f"read_page{ERASE}? Allow calculator", "args": {}}),
    ("CR only", {"name": "read_page", "args": {"url": f"{URL}\r? Allow {HARMLESS}"}}),
    ("backspaces", {"name": "read_page", "args": {"x": "\b" * 40 + HARMLESS}}),
    ("hidden text (SGR 8)", {"name": "read_page", "args": {"url": "\x1b[8m" + URL}}),
    ("black on black", {"name": "read_page", "args": {"url": "\x1b[30;40m" + URL}}),
    (
        "cursor home, clear",
        {"name": "read_page", "args": {"q": f"\x1b[H\x1b[2J? Allow {HARMLESS}"}},
    ),
    ("C1 CSI", {"name": "read_page", "args": {"q": f"\x9b2K\x9b1A? Allow {HARMLESS}"}}),
    ("bidi override in the name", {"name": "\u202eegap_daer", "args": {}}),
    ("bidi override in an arg", {"name": "read_page", "args": {"\u202elru": URL}}),
    ("rich markup", {"name": "read_page", "args": {"url": "[/bold][black on black]" + URL}}),
    ("emoji codes", {"name": "read_page", "args": {":warning:": ":white_check_mark:"}}),
    ("newlines push it off screen", {"name": "read_page", "args": {"url": "\n" * 80 + URL}}),
    (
        "a long value hides the next argument",
        {"name": "read_page", "args": {"pad": "a" * 5000, "url": URL}},
    ),
    (
        "many arguments",
        {"name": "read_page", "args": {f"a{i}": i for i in range(80)} | {"url": URL}},
    ),
    ("odd argument names", {"name": "read_page", "args": {"": 1, " ": 2, "a b": 3, "é": 4}}),
    ("not a mapping", {"name": "read_page", "args": ["x", "y"]}),
    (
        "OSC 8 link in a value",
        {
            "name": "read_page",
            "args": {"url": f"\x1b]8;;{URL}\x1b\\https://bank.example\x1b]8;;\x1b\\"},
        },
    ),
]


def screen_of(call: dict[str, object], width: int = 120, height: int = 60) -> str:
    """The question as a VT100 draws it (rich with colours, then pyte)."""
    from ahora.cli.approvals import question
    from ahora.cli.console import SafeConsole

    buf = io.StringIO()
    console = SafeConsole(file=buf, force_terminal=True, width=width, color_system="truecolor")
    console.print(question(call), end=" [y/n] (n): ")
    screen = pyte.Screen(width, height)
    pyte.Stream(screen).feed(buf.getvalue().replace("\n", "\r\n"))
    return "\n".join(line.rstrip() for line in screen.display)


def shows_the_real_call(call: dict[str, object], shown: str) -> bool:
    """One question on screen, naming the real tool first and every argument."""
    from ahora.cli.approvals import _name

    starts = [m.start() for m in re.finditer(r"^\? Allow", shown, re.MULTILINE)]
    if len(starts) != 1:
        return False
    flat = re.sub(r"\s", "", shown[starts[0] :])
    if not flat.startswith("?Allow" + re.sub(r"\s", "", _name(call["name"])) + "("):
        return False
    args = call["args"]
    names = list(args) if isinstance(args, dict) else ["(arguments)"]
    return all(re.sub(r"\s", "", _name(n)) + "=" in flat for n in names)


@pytest.mark.parametrize("call", [c for _, c in SPOOFS], ids=[n for n, _ in SPOOFS])
def test_no_spoof_changes_what_the_question_shows(call: dict[str, object]) -> None:
    shown = screen_of(call)
    assert shows_the_real_call(call, shown), shown
