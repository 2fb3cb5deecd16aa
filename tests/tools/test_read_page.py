"""read_page against a loopback web server: extraction without boilerplate, paging,
redirects, refusals and every failure as an "Error: ..." message."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests

from ahora.tools import read_page as read_page_module
from ahora.tools.read_page import extract_main_text, read_page
from tests.fixtures.pages import LONG_PARAGRAPHS, PAGES_DIR, PageServer

ARTICLE_SENTENCES = [
    "The tidal lagoon at Port Averly began feeding electricity into the national grid",
    "forty turbines can generate 320 megawatts at peak flow",
    "How the lagoon works",
    "six-kilometre sea wall holds back the water",
    "sluice gates will stay open during the spring herring run",
    "you can set a clock by",
]
BOILERPLATE = [
    "COOKIE-POLICY-BANNER",
    "Accept all cookies",
    "News-Menu-Entry",
    "Subscribe today",
    "SIDEBAR-MOST-READ",
    "ADVERTISEMENT-BLOCK",
    "RELATED-LINK",
    "FOOTER-COPYRIGHT",
    "Privacy policy",
    "TRACKING-SCRIPT-TEXT",
    "PAGEVIEW-SCRIPT-CALL",
    "READER-COMMENT-SPAM",
    "dataLayer",
]


@pytest.fixture(autouse=True)
def _fresh_page_cache() -> Iterator[None]:
    read_page_module._cache.clear()
    yield
    read_page_module._cache.clear()


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> Iterator[PageServer]:
    monkeypatch.setenv("AHORA_ALLOW_PRIVATE_URLS", "1")
    with PageServer() as server:
        yield server


def call(url: str, start: int | None = None) -> ToolMessage:
    args: dict[str, Any] = {"url": url}
    if start is not None:
        args["start"] = start
    msg = read_page.invoke({"type": "tool_call", "id": "call-1", "name": "read_page", "args": args})
    assert isinstance(msg, ToolMessage)
    return msg


def test_article_text_without_boilerplate(srv: PageServer) -> None:
    msg = call(srv.url("/article"))
    text = str(msg.content)
    assert text.startswith(
        "Title: Harbour town opens Europe's largest tidal energy plant\n"
        f"URL: {srv.url('/article')}\n\n"
    )
    for sentence in ARTICLE_SENTENCES:
        assert sentence in text
    for junk in BOILERPLATE:
        assert junk not in text
    assert "## How the lagoon works" in text  # Markdown headings survive
    assert "more characters" not in text
    [src] = msg.artifact["sources"]
    assert src["url"] == srv.url("/article")
    assert src["title"] == "Harbour town opens Europe's largest tidal energy plant"
    assert src["fetched_at"]


def test_extraction_function_is_what_the_tool_uses() -> None:
    page = extract_main_text((PAGES_DIR / "article.html").read_bytes(), "https://x.example/")
    assert page.title.startswith("Harbour town")
    assert all(s in page.text for s in ARTICLE_SENTENCES)
    assert not any(b in page.text for b in BOILERPLATE)


def test_redirect_reports_the_final_url(srv: PageServer) -> None:
    msg = call(srv.url("/redirect?to=/article&code=301"))
    assert f"URL: {srv.url('/article')}\n" in str(msg.content)
    assert msg.artifact["sources"][0]["url"] == srv.url("/article")


def test_paging_covers_the_page_once_and_downloads_it_once(
    srv: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_PAGE_CHARS", "2000")
    start, parts = 0, []
    for _ in range(40):
        text = str(call(srv.url("/long"), start).content)
        assert len(text) < 2000 + 300  # the part plus header and note
        parts.append(text)
        if "call read_page with start=" not in text:
            break
        start = int(text.rsplit("start=", 1)[1].split(" ")[0])
    assert len(parts) > 3
    assert "[... " in parts[0] and "more characters" in parts[0]
    assert "(characters 0" not in parts[0]
    assert parts[1].splitlines()[2].startswith("(characters ")
    joined = "\n".join(parts)
    for para in LONG_PARAGRAPHS:
        assert joined.count(para) == 1, para
    assert srv.hits == ["/long"]  # later parts come from the recent-pages memory


def test_start_past_the_end(srv: PageServer) -> None:
    text = str(call(srv.url("/article"), 10_000_000).content)
    assert text.startswith("Error: start=10000000 is past the end of the page")


def test_negative_start() -> None:
    assert str(call("http://example.com/", -5).content) == "Error: start must be 0 or more"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/status/404", "answered HTTP 404 (not found)"),
        ("/status/500", "answered HTTP 500 (internal server error)"),
        ("/pdf", "points to a PDF document (application/pdf)"),
        ("/image", "points to an image (image/png)"),
        ("/empty", "has no readable text"),
    ],
)
def test_failures_are_messages(srv: PageServer, path: str, message: str) -> None:
    msg = call(srv.url(path))
    assert str(msg.content).startswith("Error: ")
    assert message in str(msg.content)
    assert msg.artifact["sources"] == []
    assert message in msg.artifact["error"]


def test_plain_text_and_json_are_read_as_text(srv: PageServer) -> None:
    text = str(call(srv.url("/plain")).content)
    assert text.endswith("Plain notes.\nLine two of the notes.")
    assert f"Title: 127.0.0.1\nURL: {srv.url('/plain')}" in text
    assert '"temperature": 21.5' in str(call(srv.url("/json")).content)


def test_html_without_content_type_is_sniffed(srv: PageServer) -> None:
    assert "tidal lagoon" in str(call(srv.url("/untyped-html")).content)


def test_too_big_and_too_slow(srv: PageServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_PAGE_MAX_BYTES", "100000")
    monkeypatch.setenv("AHORA_HTTP_TIMEOUT", "1")
    assert "larger than the 100,000-byte limit" in str(call(srv.url("/gzip-bomb")).content)
    assert "took longer than 1 seconds" in str(call(srv.url("/slow-headers")).content)


def test_private_address_refused_without_reaching_it(
    srv: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_ALLOW_PRIVATE_URLS", "0")
    text = str(call(srv.url("/article")).content)
    assert text == (
        f"Error: refusing to read {srv.url('/article')}: it points to a private or loopback "
        "address (127.0.0.1 is a loopback address); only public web pages can be read"
    )
    assert srv.hits == []


def test_public_looking_name_resolving_to_loopback_is_refused(
    srv: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_ALLOW_PRIVATE_URLS", "0")
    real = socket.getaddrinfo

    def fake(host: str, port: object, *args: object, **kwargs: object) -> object:
        if host == "news.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    text = str(call(f"http://news.example.com:{srv.port}/article").content)
    assert text.startswith("Error: refusing to read")
    assert srv.hits == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "example.com"])
def test_other_schemes_refused(url: str) -> None:
    assert "only http:// and https:// URLs can be read" in str(call(url).content)


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def nowhere(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nowhere)
    text = str(call("https://no-such-host.example/").content)
    assert text == "Error: could not resolve the host name 'no-such-host.example' (check the URL)"


def test_connection_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_ALLOW_PRIVATE_URLS", "1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert str(call(f"http://127.0.0.1:{port}/").content).startswith(
        "Error: could not connect to 127.0.0.1"
    )


def test_schema_comes_from_the_docstring() -> None:
    schema = read_page.tool_call_schema.model_json_schema()
    assert set(schema["properties"]) == {"url", "start"}
    assert schema["required"] == ["url"]
    assert "http://" in schema["properties"]["url"]["description"]
    assert read_page.name == "read_page"
    assert read_page.response_format == "content_and_artifact"


class TestReadPageStandard(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return read_page

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"url": "https://example.com/article", "start": 0}
