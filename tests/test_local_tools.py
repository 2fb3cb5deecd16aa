"""The local tools in the repository's ``tools/`` folder (currency, wikipedia), loaded
through the registry and run against loopback servers shaped like Frankfurter and
the MediaWiki search API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.tools import BaseTool

from ahora.settings import get_settings
from ahora.tools.registry import available_tools, describe_tools
from tests.fixtures.open_meteo import LoopbackServer, Reply, closed_url

TOOLS_DIR = Path(__file__).resolve().parent.parent / "tools"

# --- a loopback Frankfurter ----------------------------------------------------------

PER_EUR = {"EUR": 1.0, "USD": 1.0825, "GBP": 0.8462, "JPY": 161.23, "CHF": 0.9531, "CLP": 1021.4}
CURRENCIES = {
    "EUR": "Euro",
    "USD": "United States Dollar",
    "GBP": "British Pound",
    "JPY": "Japanese Yen",
    "CHF": "Swiss Franc",
    "CLP": "Chilean Peso",
}
DAY = "2026-11-20"


class Frankfurter(LoopbackServer):
    """``/v1/latest?base=&symbols=&amount=`` and ``/v1/currencies``, like frankfurter.dev.

    Unknown codes answer 404 ``{"message": "not found"}``, as the real service does.
    """

    def handle(self, method: str, path: str, params: dict[str, str]) -> Reply:
        if path == "/v1/currencies":
            return Reply(200, CURRENCIES)
        if path != "/v1/latest":
            return Reply(404, {"message": "not found"})
        base = params.get("base", "EUR").upper()
        symbols = [s for s in params.get("symbols", "").upper().split(",") if s] or list(PER_EUR)
        if base not in PER_EUR or any(s not in PER_EUR for s in symbols):
            return Reply(404, {"message": "not found"})
        amount = float(params.get("amount", "1"))
        rates = {s: round(amount * PER_EUR[s] / PER_EUR[base], 5) for s in symbols if s != base}
        return Reply(200, {"amount": amount, "base": base, "date": DAY, "rates": rates})


# --- a loopback MediaWiki -------------------------------------------------------------

ARTICLES = [
    {
        "ns": 0,
        "title": "Atacama Desert",
        "pageid": 53542,
        "size": 61234,
        "wordcount": 6001,
        "snippet": 'The <span class="searchmatch">Atacama</span> Desert is a desert plateau '
        "&amp; one of the driest places on Earth &quot;non-polar&quot;",
        "timestamp": "2026-10-02T08:15:11Z",
    },
    {
        "ns": 0,
        "title": "Atacama Large Millimeter Array",
        "pageid": 1210771,
        "size": 40211,
        "wordcount": 3900,
        "snippet": 'The <span class="searchmatch">Atacama</span> Large '
        "Millimeter/submillimeter Array",
        "timestamp": "2026-09-14T21:00:00Z",
    },
]


class MediaWiki(LoopbackServer):
    """``/w/api.php?action=query&list=search``, like en.wikipedia.org.

    Like Wikimedia, it answers 403 to clients without a descriptive User-Agent.
    API errors are HTTP 200 with an ``error`` object.
    """

    def handle(self, method: str, path: str, params: dict[str, str]) -> Reply:
        agent = self.requests[-1].headers.get("User-Agent", "")
        if not agent or agent.startswith("python-requests"):
            return Reply(403, "Please set a user-agent and respect our robot policy.")
        if path != "/w/api.php":
            return Reply(404, "Not Found")
        if params.get("action") != "query" or params.get("list") != "search":
            return Reply(200, {"error": {"code": "badvalue", "info": "Unrecognized value."}})
        query = params.get("srsearch", "")
        if not query:
            return Reply(
                200,
                {"error": {"code": "nosrsearch", "info": 'The "srsearch" parameter must be set.'}},
            )
        hits = [a for a in ARTICLES if query.lower() in a["title"].lower()]
        hits = hits[: int(params.get("srlimit", "10"))]
        info: dict[str, object] = {"totalhits": len(hits)}
        if not hits and query.lower() == "atacma":
            info["suggestion"] = "atacama"
        return Reply(200, {"batchcomplete": "", "query": {"searchinfo": info, "search": hits}})


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> dict[str, BaseTool]:
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(TOOLS_DIR))
    return available_tools(settings=get_settings())


@pytest.fixture
def frankfurter(monkeypatch: pytest.MonkeyPatch) -> Iterator[Frankfurter]:
    with Frankfurter() as srv:
        monkeypatch.setenv("AHORA_FRANKFURTER_URL", srv.url)
        yield srv


@pytest.fixture
def mediawiki(monkeypatch: pytest.MonkeyPatch) -> Iterator[MediaWiki]:
    with MediaWiki() as srv:
        monkeypatch.setenv("AHORA_WIKIPEDIA_URL", srv.url)
        yield srv


def call(t: BaseTool, args: dict[str, object]) -> tuple[str, dict[str, object]]:
    message = t.invoke({"type": "tool_call", "id": "call_1", "name": t.name, "args": args})
    return str(message.content), dict(message.artifact)


def test_registry_lists_them_as_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(TOOLS_DIR))
    origins = {i.name: i.origin for i in describe_tools(settings=get_settings())}
    assert origins["currency"] == f"local:{TOOLS_DIR / 'currency.py'}"
    assert origins["wikipedia"] == f"local:{TOOLS_DIR / 'wikipedia.py'}"


def test_currency_converts_an_amount(tools: dict[str, BaseTool], frankfurter: Frankfurter) -> None:
    text, artifact = call(
        tools["currency"], {"from_currency": "usd", "to_currencies": "EUR, gbp", "amount": 250}
    )
    assert text.splitlines() == [
        f"250.00 USD = {250 * 0.92379:,.2f} EUR (1 USD = 0.92379 EUR)",
        f"250.00 USD = {250 * 0.78171:,.2f} GBP (1 USD = 0.78171 GBP)",
        f"European Central Bank reference rates of {DAY} (via Frankfurter).",
    ]
    (req,) = frankfurter.requests_to("/v1/latest")
    assert req.params == {"base": "USD", "symbols": "EUR,GBP"}
    (src,) = artifact["sources"]  # type: ignore[misc]
    assert src["url"].startswith(f"{frankfurter.url}/v1/latest?")
    assert DAY in src["title"]


def test_currency_unknown_code_is_named(
    tools: dict[str, BaseTool], frankfurter: Frankfurter
) -> None:
    text, artifact = call(tools["currency"], {"from_currency": "USD", "to_currencies": "EUR,XYZ"})
    assert text.startswith("Error: unknown currency code XYZ")
    assert "such as USD, EUR" in text
    assert artifact["sources"] == [] and "XYZ" in str(artifact["error"])
    text, _ = call(tools["currency"], {"from_currency": "CLF", "to_currencies": "EUR"})
    assert "unknown currency code CLF (did you mean CLP" in text


def test_currency_rejects_malformed_codes_without_a_request(
    tools: dict[str, BaseTool], frankfurter: Frankfurter
) -> None:
    text, _ = call(tools["currency"], {"from_currency": "dollars", "to_currencies": "EUR"})
    assert text.startswith("Error: 'dollars' is not a currency code")
    text, _ = call(tools["currency"], {"from_currency": "EUR", "to_currencies": "eur"})
    assert "other than from_currency" in text
    assert frankfurter.requests == []


def test_currency_service_trouble(
    tools: dict[str, BaseTool], frankfurter: Frankfurter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    frankfurter.override("/v1/latest", 503, {"message": "down"})
    text, _ = call(tools["currency"], {"from_currency": "USD", "to_currencies": "EUR"})
    assert text == "Error: Frankfurter answered HTTP 503; try again later"
    monkeypatch.setenv("AHORA_FRANKFURTER_URL", closed_url())
    text, _ = call(tools["currency"], {"from_currency": "USD", "to_currencies": "EUR"})
    assert text.startswith("Error: Frankfurter is unreachable: could not connect")


def test_wikipedia_lists_articles_with_clean_snippets(
    tools: dict[str, BaseTool], mediawiki: MediaWiki
) -> None:
    text, artifact = call(tools["wikipedia"], {"query": "Atacama", "limit": 5})
    assert text.splitlines() == [
        "1. Atacama Desert (last edited 2026-10-02): The Atacama Desert is a desert plateau "
        '& one of the driest places on Earth "non-polar"',
        f"   {mediawiki.url}/wiki/Atacama_Desert",
        "2. Atacama Large Millimeter Array (last edited 2026-09-14): The Atacama Large "
        "Millimeter/submillimeter Array",
        f"   {mediawiki.url}/wiki/Atacama_Large_Millimeter_Array",
    ]
    assert [s["url"] for s in artifact["sources"]] == [  # type: ignore[attr-defined]
        f"{mediawiki.url}/wiki/Atacama_Desert",
        f"{mediawiki.url}/wiki/Atacama_Large_Millimeter_Array",
    ]
    (req,) = mediawiki.requests
    assert req.params == {
        "action": "query",
        "list": "search",
        "srsearch": "Atacama",
        "srlimit": "5",
        "format": "json",
    }
    assert req.headers["User-Agent"].startswith("ahora/")


def test_wikipedia_no_results_suggests(tools: dict[str, BaseTool], mediawiki: MediaWiki) -> None:
    text, artifact = call(tools["wikipedia"], {"query": "atacma"})
    assert text == "No Wikipedia article matches 'atacma'. Did you mean 'atacama'?"
    assert artifact == {"sources": []}


def test_wikipedia_errors_are_messages(
    tools: dict[str, BaseTool], mediawiki: MediaWiki, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, _ = call(tools["wikipedia"], {"query": "   "})
    assert text == "Error: the query is empty; say what to look for"
    mediawiki.override(
        "/w/api.php", 200, {"error": {"code": "maxlag", "info": "Waiting for a database server"}}
    )
    text, _ = call(tools["wikipedia"], {"query": "Atacama"})
    assert text == "Error: Wikipedia refused the search: Waiting for a database server"
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    mediawiki.override("/w/api.php", 500, "oops")
    text, _ = call(tools["wikipedia"], {"query": "Atacama Desert"})
    assert text.startswith("Error: Wikipedia search failed:") and "HTTP 500" in text
