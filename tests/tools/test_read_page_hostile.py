"""read_page against hostile pages (issue 9 items 5 and 7): parsing is bounded in time and
memory and really stopped at its deadline; odd charsets are never exceptions.

Every answer must be page text or an ``Error:`` message, quickly. Loopback server only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage

from ahora import pages, worker
from ahora.tools import read_page as read_page_module
from ahora.tools.read_page import read_page
from tests.fixtures.pages import PageServer

ARTICLE = (
    b"<html><head><title>Harbour report</title></head><body><article><h1>Harbour report</h1>"
    + b"<p>The harbour authority counted forty-two fishing boats in the spring survey.</p>" * 8
    + b"</article></body></html>"
)


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


def call(url: str) -> str:
    msg = read_page.invoke(
        {"type": "tool_call", "id": "c1", "name": "read_page", "args": {"url": url}}
    )
    assert isinstance(msg, ToolMessage)
    return str(msg.content)


# --- hostile structure ---------------------------------------------------------------------


def _attribute_flood() -> bytes:  # 2.7 MB: one tag with 270,000 attributes
    attrs = " ".join(f'a{i}="v"' for i in range(270_000))
    return f"<html><body><div {attrs}><p>Attribute flood survived.</p></div></body></html>".encode()


def _paragraph_flood() -> bytes:  # 100,000 <p>, 1.1 MB
    return b"<html><body>" + b"<p>word</p>\n" * 100_000 + b"</body></html>"


def _wide_table() -> bytes:
    row = b"<tr>" + b'<td colspan="65534">cell</td>' * 300 + b"</tr>"
    return b"<html><body><table>" + row * 50 + b"</table></body></html>"


def _link_flood() -> bytes:
    return b"<html><body>" + b"<a href='/x'>link</a> " * 150_000 + b"</body></html>"


@pytest.mark.parametrize(
    "page", [_attribute_flood, _paragraph_flood, _wide_table, _link_flood], ids=lambda f: f.__name__
)
def test_hostile_pages_are_read_or_refused_quickly(srv: PageServer, page: object) -> None:
    assert callable(page)
    srv.extra["/hostile"] = ("text/html; charset=utf-8", page())
    started = time.monotonic()
    text = call(srv.url("/hostile"))
    elapsed = time.monotonic() - started
    assert text.startswith(("Title:", "Error:")), text[:200]
    # EXTRACT_SECONDS (4 s) plus the fetch; generous for a busy 2-core CI machine
    assert elapsed < read_page_module.EXTRACT_SECONDS + 4


def test_attribute_flood_is_parsed_not_refused(srv: PageServer) -> None:
    srv.extra["/hostile"] = ("text/html", _attribute_flood())
    assert "Attribute flood survived." in call(srv.url("/hostile"))


def test_long_tags_are_cut_before_parsing() -> None:
    html = b"<p>before</p><div " + b'x="y" ' * 20_000 + b"><p>after</p>"
    assert pages._shrink_long_tags(html) == b"<p>before</p><div><p>after</p>"
    short = "<p class='a'>ok</p>"
    assert pages._shrink_long_tags(short) == short


def test_tree_limits_drop_attribute_floods_and_clamp_spans() -> None:
    from lxml import html as lxml_html

    tree = lxml_html.fromstring(
        "<div>"
        + "<span "
        + " ".join(f"a{i}='v'" for i in range(200))
        + " id='keep'>x</span>"
        + "<table><tr><td colspan='65534' rowspan='x'>c</td></tr></table></div>"
    )
    pages._limit(tree)
    span = tree.find(".//span")
    assert span is not None and dict(span.attrib) == {"id": "keep"}
    cell = tree.find(".//td")
    assert cell is not None
    assert cell.get("colspan") == str(pages.MAX_SPAN) and cell.get("rowspan") == "1"


def test_a_timed_out_extraction_is_stopped(
    srv: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker is killed at the deadline: no parsing goes on after the tool gave up."""
    killed: list[worker._Worker] = []
    real_kill = worker._Worker.kill

    def spy(self: worker._Worker) -> None:
        killed.append(self)
        real_kill(self)

    monkeypatch.setattr(worker._Worker, "kill", spy)
    monkeypatch.setattr(read_page_module, "EXTRACT_SECONDS", 0.05)
    srv.extra["/slow"] = ("text/html", _paragraph_flood())
    text = call(srv.url("/slow"))
    assert text.startswith("Error:") and "too complex to read" in text
    assert killed and all(w.proc.poll() is not None for w in killed)


def test_worker_runs_out_of_memory_cleanly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Workers never import from the working folder, so run from elsewhere than the
    # repository (whose tests package is on this process's path as the folder itself).
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MemoryError):
        worker.run("tests.tools.test_read_page_hostile:_hog", b"", seconds=20, memory=64 << 20)
    # the next call gets a fresh worker and works
    assert worker.run(
        "ahora.pages:extract_for_worker", ARTICLE, seconds=20, url=None, encoding=None
    )


def _hog(payload: bytes) -> int:  # runs in the worker
    return len(bytearray(512 << 20))


def test_worker_errors_come_back_as_runtime_errors() -> None:
    with pytest.raises(RuntimeError, match="ModuleNotFoundError"):
        worker.run("no_such_module_here:f", b"", seconds=20)


# --- hostile charsets (item 7) -------------------------------------------------------------

CHARSETS = [
    "idna",
    "rot13",
    "hex",
    "zlib",
    "punycode",
    "base64",
    "utf-7",
    "undefined",
    "unicode_escape",
    "no-such-charset",
    "utf-8\x00",
    "x" * 500,
]


@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize("ctype", ["text/html", "text/plain"])
def test_hostile_charsets_fall_back_to_detection(srv: PageServer, charset: str, ctype: str) -> None:
    srv.extra["/cs"] = (f"{ctype}; charset={charset}", ARTICLE)
    text = call(srv.url("/cs"))
    assert "forty-two fishing boats" in text, text[:300]


@pytest.mark.parametrize("charset", ["rot13", "idna", "hex"])
def test_hostile_meta_charset_is_harmless(srv: PageServer, charset: str) -> None:
    body = ARTICLE.replace(b"<head>", f"<head><meta charset='{charset}'>".encode())
    srv.extra["/meta"] = ("text/html", body)
    assert "forty-two fishing boats" in call(srv.url("/meta"))


def test_real_declared_charsets_are_honoured(srv: PageServer) -> None:
    srv.extra["/latin"] = ("text/plain; charset=iso-8859-1", "Año señal".encode("latin-1"))
    srv.extra["/sjis"] = ("text/plain; charset=shift_jis", "東京の天気".encode("shift_jis"))
    assert "Año señal" in call(srv.url("/latin"))
    assert "東京の天気" in call(srv.url("/sjis"))


def test_undeclared_legacy_text_is_read(srv: PageServer) -> None:
    text = "Price list. Ça coûte très cher, déjà. " * 40
    srv.extra["/undeclared"] = ("text/plain", text.encode("cp1252"))
    assert "Price list." in call(srv.url("/undeclared"))


# --- the tool's work ends with the tool (item 4) -------------------------------------------


def test_read_page_gives_up_within_the_tool_timeout(
    srv: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fetch and extraction share the tool's budget: nothing keeps reading after the
    tool timed out (http_timeout alone would let the fetch run 20 s)."""
    monkeypatch.setenv("AHORA_TOOL_TIMEOUT", "1")
    started = time.monotonic()
    text = call(srv.url("/trickle-unsized"))
    assert text.startswith("Error:") and "took longer than 1 seconds" in text
    assert time.monotonic() - started < 2.5


def test_ahora_ask_on_a_trickling_page_answers_and_exits(tmp_path: Path) -> None:
    """The issue's done-when check, end to end through the CLI and a loopback model."""
    from ahora.testing.openai_server import OpenAIServer, tool_then_answer

    with PageServer() as pages:
        url = pages.url("/trickle-unsized")
        rule = tool_then_answer("read_page", {"url": url}, answer="The page did not load.")
        with OpenAIServer(rule=rule) as model:
            env = {
                **os.environ,
                "AHORA_ALLOW_PRIVATE_URLS": "1",
                "AHORA_TOOL_TIMEOUT": "3",
                "OPENAI_API_KEY": "sk-test",
                "OPENAI_BASE_URL": model.base_url,
                "AHORA_MODEL": "openai:test-model",
                "AHORA_HOME": str(tmp_path / "home"),
            }
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "ahora", "ask", f"Read {url}"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "The page did not load." in done.stdout
    assert elapsed < 10
