"""The program on a real terminal, read back as a VT100 draws it.

``screen_of`` runs ``python -m ahora ...`` in a pseudo-terminal (pexpect) of a given
size and replays what it wrote through pyte, so tests assert on the lines a person
sees (wrapping, cut columns, hyperlinks stripped), not on escape sequences.
"""

from __future__ import annotations

import os
import signal
import sys

import pexpect
import pyte

AHORA = [sys.executable, "-m", "ahora"]


def ctrl_c_as_on_a_terminal() -> None:
    """In the child, before exec: Ctrl-C interrupts, as in a shell a person types in.

    A test run started in the background (``&`` in a script, ``nohup``, some CI
    runners) ignores SIGINT and its children inherit that, so Python would never
    raise ``KeyboardInterrupt`` and every Ctrl-C test would fail for that reason alone.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(*args: str, cols: int = 80, rows: int = 200) -> pexpect.spawn:
    """``python -m ahora *args`` in a pseudo-terminal of ``cols`` x ``rows``, colours on."""
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"  # nothing here answers cursor-position requests
    env["TERM"] = "xterm-256color"
    return pexpect.spawn(
        AHORA[0],
        [*AHORA[1:], *args],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(rows, cols),
        preexec_fn=ctrl_c_as_on_a_terminal,
    )


def draw(raw: str, *, cols: int = 80, rows: int = 200) -> list[str]:
    """The screen lines (trailing spaces and trailing blank lines removed)."""
    screen = pyte.Screen(cols, rows)
    stream = pyte.Stream(screen)
    stream.feed(raw)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def screen_of(*args: str, cols: int = 80, rows: int = 200) -> list[str]:
    """Run to the end on a terminal and return what the screen shows."""
    child = spawn(*args, cols=cols, rows=rows)
    child.expect(pexpect.EOF)
    child.close()
    return draw(child.before or "", cols=cols, rows=rows)
