"""Outside text with control characters keeps the layout: the visible stand-ins
(``␛``, ``<U+202E>``) are measured before rich lays the lines out, so no line is
wider than the terminal and the live area's cursor arithmetic stays right (a line
the terminal wraps on its own leaves a stale copy of the answer on screen); and
tables written for a pipe are cleaned as well."""

from __future__ import annotations

import io

from rich.cells import cell_len

from ahora.cli.console import SafeConsole
from ahora.cli.layout import answer_markdown, print_unpadded
from ahora.cli.render import _LiveView

HOSTILE = "Title: \x1b]52;c;SGVsbG8= clip \x1b[2J cleared \u202eevil\u202c \x9b31m " + "word " * 12


def _lines(renderable: object, width: int = 40) -> list[str]:
    console = SafeConsole(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def test_an_answer_with_controls_fits_the_terminal_and_shows_them() -> None:
    lines = _lines(answer_markdown(HOSTILE))
    assert all(cell_len(line) <= 40 for line in lines), lines
    text = " ".join(lines)
    assert "␛]52;c;SGVsbG8=" in text and "<U+202E>evil<U+202C>" in text


def test_the_live_status_with_a_hostile_tool_name_fits_the_terminal() -> None:
    view = _LiveView()
    view.set_status("Running evil\x1b[31m\u202e" + "x" * 30)
    lines = _lines(view)
    assert all(cell_len(line) <= 40 for line in lines), lines


def test_a_table_printed_for_a_pipe_is_cleaned_too() -> None:
    """``ahora threads | head`` shows the table on the terminal all the same."""
    from rich.table import Table

    table = Table("id", "title")
    table.add_row("1aec4264", "hostile \x1b]0;PWNED\x07 title \u202e here")
    out = io.StringIO()
    print_unpadded(SafeConsole(file=out, width=80, color_system=None), table)
    assert "␛]0;PWNED" in out.getvalue() and "<U+202E>" in out.getvalue()
    assert "\x1b" not in out.getvalue() and "\u202e" not in out.getvalue()


def test_tool_lines_and_source_titles_with_controls_fit_the_terminal() -> None:
    from ahora.answer import Answer
    from ahora.cli.render import TerminalRenderer
    from ahora.events import ToolCalled, ToolFinished
    from ahora.tools._common import source

    out = io.StringIO()
    console = SafeConsole(file=out, width=40, color_system=None, _environ={})
    renderer = TerminalRenderer(console, verbose=True)
    evil = "\x1b]0;PWNED\x07\u202e"
    renderer.handle(ToolCalled("c1", f"tool{evil}{evil}", {}))
    renderer.handle(ToolFinished("c1", f"tool{evil}{evil}", f"pre{evil}" * 4, f"bad{evil}" * 4))
    title = f"Title{evil}{evil} of the page"
    renderer.show_answer(Answer(text="ok", sources=[source("https://a.example/", title)]))
    lines = out.getvalue().splitlines()
    assert all(cell_len(line) <= 40 for line in lines), lines
    assert "␛]0;PWNED" in out.getvalue() and "\x1b" not in out.getvalue()
