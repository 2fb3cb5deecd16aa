"""Notebook output is inert: what ``_repr_markdown_`` writes renders no live tag and
links only http(s) addresses, whatever a page, a search result or the model wrote.

Rendered with markdown-it (raw HTML on, and its own link check off, the way a lenient
renderer such as Jupyter's treats trusted output), then the HTML is parsed and every
element and every link is checked.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from ahora.answer import Answer
from ahora.events import ApprovalRequested, Finished, Token, ToolCalled, ToolFinished

# Tags ahora writes itself; anything else in the HTML came through from outside.
OURS = {"p", "ol", "ul", "li", "a", "strong", "em", "small", "code", "pre", "br", "hr"}
OURS |= {"h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}


def render(markdown: str) -> str:
    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True  # judge the Markdown, not markdown-it's filter
    return md.render(markdown)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(markdown: str) -> None:
    html = render(markdown)
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in OURS, (tag, markdown, html)
        for name, value in attrs:
            assert not name.startswith("on"), (name, markdown, html)
            if name in {"href", "src"}:
                assert tag == "a" and (value or "").lower().startswith(("http://", "https://"))


PAYLOAD_URL = "https://a.example/x) <img src=x onerror=alert(1)> <script>alert(2)</script> ("
HOSTILE = [
    PAYLOAD_URL,
    "javascript:alert(1)",
    "file:///etc/passwd",
    "data:text/html,<script>alert(1)</script>",
    "JaVaScRiPt:alert(1)",
    "https://a.example/<b>",
    "https://a.example/>\"' onmouseover=alert(1) x=",
    "https://a.example/\\",
    "vbscript:msgbox(1)",
    " javascript:alert(1)",
]
ANSWER_TEXT = [
    "[click](javascript:alert(1))",
    "[file](file:///etc/passwd) and <file:///etc/passwd>",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "[r]\n\n[r]: javascript:alert(1)",
    '<a href="javascript:alert(1)">x</a> <img src=x onerror=alert(1)>',
    "<javascript:alert(1)>",
    "[x](<javascript:alert(1)>)",
    "\\[x\\](javascript:alert(1))",
    "[ok](https://example.org) then [bad](javascript:alert(1))",
    "[a [b](https://ok.example)](javascript:alert(1))",
    "`<script>` and ```\n<script>alert(1)</script>\n```",
    "    <script>alert(1)</script>",
    "<!-- x --><svg onload=alert(1)>",
    "[x](https://ok.example/\\)(javascript:alert(1))",
]


def answer(text: str, url: str, title: str = "t") -> Answer:
    return Answer(text=text, sources=[{"url": url, "title": title, "fetched_at": "now"}])


def test_the_issue_payload_renders_inert() -> None:
    shown = answer("see the source", PAYLOAD_URL, "Result")._repr_markdown_()
    assert_inert(shown)
    assert "<img" not in render(shown) and "<script" not in render(shown)


def test_http_sources_and_links_stay_links() -> None:
    shown = answer("Read [the page](https://example.org/a_(b)).", "https://example.org/a")
    html = render(shown._repr_markdown_())
    assert '<a href="https://example.org/a_%28b%29">the page</a>' in html
    assert '<a href="https://example.org/a">t</a>' in html
    assert "**bold**" not in render(answer("**bold**", "https://x.example")._repr_markdown_())


def test_other_schemes_are_shown_not_linked() -> None:
    for url in HOSTILE:
        shown = answer("text", url, "title")._repr_markdown_()
        assert_inert(shown)
    html = render(answer("t", "javascript:alert(1)", "title")._repr_markdown_())
    assert "javascript:alert(1)" in html and "<a " not in html  # shown, not linked
    for text in ANSWER_TEXT:
        assert_inert(answer(text, "https://ok.example")._repr_markdown_())
        assert_inert(Token(text)._repr_markdown_())


def _events(text: str, url: str) -> list[Any]:
    src = [{"url": url, "title": text}]
    return [
        Token(text),
        ToolCalled("c", text, {"url": url, "q": text}),
        ToolFinished("c", "read_page", text, None, src),  # type: ignore[arg-type]
        ToolFinished("c", "read_page", "", text),
        ApprovalRequested("c", text, {"to": url}),
        Finished(answer(text, url, text)),
    ]


markdownish = st.lists(
    st.sampled_from([*list("[]()<>!:/\\`*_&#;\"' \nab.="), "javascript:", "https://", "&#93;"]),
    max_size=30,
).map("".join)
urls = st.one_of(
    st.sampled_from(HOSTILE),
    st.builds(
        lambda scheme, rest: scheme + rest,
        st.sampled_from(["http://", "https://", "HTTPS://", "javascript:", "file:", "data:", ""]),
        markdownish,
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(markdownish, st.sampled_from(ANSWER_TEXT), st.text(max_size=40)), url=urls)
def test_no_generated_text_or_url_renders_live(text: str, url: str) -> None:
    for event in _events(text, url):
        assert_inert(event._repr_markdown_())
