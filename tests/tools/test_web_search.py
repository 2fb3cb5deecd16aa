"""The web_search tool: what the model reads, the sources artifact, and failures as messages."""

from __future__ import annotations

from typing import Any

import pytest
from ddgs.exceptions import DDGSException, RatelimitException
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests

from ahora.tools.web_search import web_search
from tests.fixtures import fake_ddgs as fake_ddgs_module
from tests.fixtures import searxng as searxng_module
from tests.fixtures.fake_ddgs import DDGSScript
from tests.fixtures.open_meteo import closed_url
from tests.fixtures.searxng import SearXNGServer

fake_ddgs = fake_ddgs_module.fake_ddgs  # pytest fixtures, under their own names
searxng_server = searxng_module.searxng_server


def call(**args: Any) -> ToolMessage:
    msg = web_search.invoke({"type": "tool_call", "id": "c1", "name": "web_search", "args": args})
    assert isinstance(msg, ToolMessage)
    return msg


class TestWebSearchStandard(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return web_search

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"query": "Chile election results", "max_results": 3}


def test_numbered_results_with_url_snippet_and_date(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer
) -> None:
    msg = call(query="chile elections", max_results=2)
    assert msg.content == (
        f"Results for 'chile elections' (via SearXNG at {searxng_server.url}):\n"
        "1. chile elections - result 1\n"
        "   https://example.org/chile-elections/1\n"
        "   Snippet 1 about chile elections. (2026-11-18)\n"
        "2. chile elections - result 2\n"
        "   https://example.org/chile-elections/2\n"
        "   Snippet 2 about chile elections."
    )
    sources = msg.artifact["sources"]
    assert [(s["url"], s["title"]) for s in sources] == [
        ("https://example.org/chile-elections/1", "chile elections - result 1"),
        ("https://example.org/chile-elections/2", "chile elections - result 2"),
    ]
    assert all(s["fetched_at"] for s in sources)


def test_ddgs_by_default(fake_ddgs: DDGSScript) -> None:
    long_body = "word " * 200
    fake_ddgs.push([{"title": "T", "href": "https://a.example/", "body": long_body}])
    msg = call(query="anything")
    lines = str(msg.content).splitlines()
    assert lines[:3] == ["Results for 'anything' (via ddgs):", "1. T", "   https://a.example/"]
    assert len(lines[3]) <= 3 + 300 and lines[3].endswith("…")
    assert fake_ddgs.calls[0].max_results == 5


@pytest.mark.parametrize(("asked", "sent"), [(50, 20), (0, 1), (-3, 1), (7, 7)])
def test_max_results_is_clamped(fake_ddgs: DDGSScript, asked: int, sent: int) -> None:
    msg = call(query=f"q{asked}", max_results=asked)
    assert fake_ddgs.calls[0].max_results == sent
    assert len(msg.artifact["sources"]) == sent


def test_empty_query(fake_ddgs: DDGSScript) -> None:
    msg = call(query="   ")
    assert msg.content == "Error: the query is empty; say what to search for."
    assert fake_ddgs.calls == []


def test_no_results(fake_ddgs: DDGSScript) -> None:
    fake_ddgs.push(DDGSException("No results found."), DDGSException("No results found."))
    msg = call(query="zzqqxx vvbb")
    assert msg.content == "No results for 'zzqqxx vvbb'; try other words."
    assert msg.artifact == {"sources": []}


def test_everything_failing_is_one_message(
    fake_ddgs: DDGSScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = closed_url()
    monkeypatch.setenv("AHORA_SEARXNG_URL", url)
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    fake_ddgs.push(RatelimitException("202"), RatelimitException("202"))
    msg = call(query="chile")
    content = str(msg.content)
    assert content.startswith(
        f"Error: web search is unavailable right now: SearXNG at {url} unreachable"
    )
    assert "; ddgs rate-limited (HTTP 202). Try again later or answer from what you know" in content
    assert msg.artifact["sources"] == [] and msg.artifact["error"]


def test_json_disabled_instance_then_ddgs(fake_ddgs: DDGSScript) -> None:
    with SearXNGServer(json_enabled=False) as srv, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AHORA_SEARXNG_URL", srv.url)
        fake_ddgs.push(RatelimitException("202"), RatelimitException("202"))
        msg = call(query="chile")
    assert str(msg.content).startswith(
        f"Error: web search is unavailable right now: SearXNG at {srv.url} refused JSON (HTTP 403):"
        " JSON output is disabled in the instance's settings"
    )


def test_repeated_query_is_served_from_cache(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer
) -> None:
    first = call(query="chile")
    second = call(query="Chile ")
    assert "(via SearXNG" in str(first.content) and "cached" not in str(first.content)
    assert "; cached, 0 s old):" in str(second.content)
    body = str(second.content).split("\n", 1)[1]
    assert body == str(first.content).split("\n", 1)[1]
    assert len(searxng_server.requests) == 1
