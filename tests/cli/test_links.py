"""Links in the model's Markdown never show one place and open another."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ahora.cli.render import answer_markdown


def _shown(markdown: str) -> str:
    console = Console(file=io.StringIO(), width=200, force_terminal=True, color_system=None)
    console.print(answer_markdown(markdown))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return " ".join(out.split())


def test_a_link_whose_text_looks_like_another_url_shows_its_real_target() -> None:
    shown = _shown("Log in at [https://bank.example](https://evil.example/login).")
    assert "(https://evil.example/login)" in shown


def test_a_link_with_words_for_text_shows_its_target() -> None:
    assert "(https://evil.example)" in _shown("[your bank](https://evil.example)")


@pytest.mark.parametrize(
    "markdown",
    [
        "<https://example.com/a>",
        "[https://example.com/a](https://example.com/a)",
        "[example.com](https://www.example.com/)",
        "[https://example.com/ü](https://example.com/%C3%BC)",
    ],
)
def test_a_link_that_shows_its_own_target_is_not_repeated(markdown: str) -> None:
    assert "(" not in _shown(markdown)
