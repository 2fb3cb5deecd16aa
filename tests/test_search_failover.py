"""The search layer: backends, failover order, rate limiters with back-off, the result cache.

Real HTTP to the loopback SearXNG (tests/fixtures/searxng.py); ddgs is replaced by
the scripted fake (tests/fixtures/fake_ddgs.py), never the network.
"""

from __future__ import annotations

import inspect
import threading

import pytest
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

from ahora.search import (
    BackendError,
    RateLimited,
    SearchUnavailable,
    backends_from_settings,
    search,
)
from ahora.search.chain import _TTLCache
from ahora.search.ddgs_backend import DDGSBackend
from ahora.search.limiter import RateLimiter, limiter_for
from ahora.search.searxng import SearXNGBackend
from ahora.settings import get_settings
from tests.fixtures import fake_ddgs as fake_ddgs_module
from tests.fixtures import searxng as searxng_module
from tests.fixtures.fake_ddgs import DDGSScript, FakeDDGS
from tests.fixtures.open_meteo import closed_url
from tests.fixtures.searxng import SearXNGServer

fake_ddgs = fake_ddgs_module.fake_ddgs  # pytest fixtures, under their own names
searxng_server = searxng_module.searxng_server

HIT = {
    "title": "Chile - Wikipedia",
    "href": "https://en.wikipedia.org/wiki/Chile",
    "body": "A country.",
}


# --- the fake mimics ddgs -------------------------------------------------------------


def test_fake_ddgs_has_the_real_signatures() -> None:
    from ddgs.ddgs import DDGS

    def sig(f: object) -> inspect.Signature:
        return inspect.signature(f, eval_str=True)  # type: ignore[arg-type]

    assert sig(FakeDDGS.__init__) == sig(DDGS.__init__)
    real = sig(DDGS._search_sync).parameters
    wanted = [p for name, p in real.items() if name not in ("category", "kwargs")]
    for method in (FakeDDGS.text, FakeDDGS.news):
        assert list(sig(method).parameters.values()) == wanted


def test_fake_ddgs_rejects_backends_ddgs_does_not_have() -> None:
    client = DDGSScript().factory(timeout=3)
    with pytest.raises(ValueError, match="no such text backend"):
        client.text("x", backend="altavista")
    with pytest.raises(DDGSException, match="query is mandatory"):
        client.text("")


# --- ddgs backend -----------------------------------------------------------------------


def test_ddgs_backend_maps_results_and_passes_arguments(fake_ddgs: DDGSScript) -> None:
    fake_ddgs.push([HIT, {"title": "no url"}])
    results = DDGSBackend(timeout=7).search("chile", 5)
    assert [(r.title, r.url, r.snippet, r.backend) for r in results] == [
        ("Chile - Wikipedia", "https://en.wikipedia.org/wiki/Chile", "A country.", "ddgs")
    ]
    (call,) = fake_ddgs.calls
    assert (call.method, call.query, call.max_results, call.backend, call.timeout) == (
        "text",
        "chile",
        5,
        "auto",
        7,
    )


def test_ddgs_rate_limit_on_auto_tries_named_engines(fake_ddgs: DDGSScript) -> None:
    fake_ddgs.push(RatelimitException("202 Ratelimit"), [HIT])
    assert DDGSBackend().search("chile", 5)[0].url == HIT["href"]
    assert [c.backend for c in fake_ddgs.calls] == ["auto", "duckduckgo,brave,mojeek"]


@pytest.mark.parametrize(
    "exc",
    [
        RatelimitException("202 Ratelimit"),
        DDGSException("https://html.duckduckgo.com 202 Ratelimit"),
    ],
)
def test_ddgs_rate_limited_everywhere(fake_ddgs: DDGSScript, exc: Exception) -> None:
    fake_ddgs.push(exc, exc)
    with pytest.raises(RateLimited, match=r"^rate-limited \(HTTP 202\)$"):
        DDGSBackend().search("chile", 5)


def test_ddgs_timeouts(fake_ddgs: DDGSScript) -> None:
    fake_ddgs.push(TimeoutException("timed out"), TimeoutException("timed out"))
    with pytest.raises(BackendError) as info:
        DDGSBackend().search("chile", 5)
    assert not isinstance(info.value, RateLimited)
    assert str(info.value) == "failed (auto: timed out; duckduckgo,brave,mojeek: timed out)"


def test_ddgs_no_results_is_an_empty_list(fake_ddgs: DDGSScript) -> None:
    fake_ddgs.push(DDGSException("No results found."), DDGSException("No results found."))
    assert DDGSBackend().search("zzqqxx", 5) == []


def test_ddgs_client_factory_parameter_wins() -> None:
    script = DDGSScript([HIT])
    assert DDGSBackend(client_factory=script.factory).search("chile", 1)[0].title == HIT["title"]
    assert len(script.calls) == 1


# --- SearXNG backend -------------------------------------------------------------------


def test_searxng_backend_shapes_and_slices(searxng_server: SearXNGServer) -> None:
    results = SearXNGBackend(searxng_server.url, settings=get_settings()).search(
        "chile elections", 3
    )
    assert [r.url for r in results] == [
        f"https://example.org/chile-elections/{i}" for i in (1, 2, 3)
    ]
    assert results[0].snippet == "Snippet 1 about chile elections."
    assert results[0].date == "2026-11-18" and results[1].date is None
    (req,) = searxng_server.requests
    assert req.params == {"q": "chile elections", "format": "json"}
    assert req.headers["Cache-Control"] == "no-store"


def test_searxng_json_disabled_says_exactly_that() -> None:
    with SearXNGServer(json_enabled=False) as srv, pytest.raises(BackendError) as info:
        SearXNGBackend(srv.url, settings=get_settings()).search("chile", 5)
    assert str(info.value) == (
        "refused JSON (HTTP 403): JSON output is disabled in the instance's settings;"
        " add 'json' to search.formats in settings.yml"
    )


def test_searxng_all_engines_down(searxng_server: SearXNGServer) -> None:
    searxng_server.engines_down = True
    with pytest.raises(BackendError, match="no working engines") as info:
        SearXNGBackend(searxng_server.url, settings=get_settings()).search("chile", 5)
    assert "google: timeout, duckduckgo: CAPTCHA, brave: too many requests" in str(info.value)


def test_searxng_genuine_no_results(searxng_server: SearXNGServer) -> None:
    searxng_server.corpus["zzqqxx"] = []
    assert SearXNGBackend(searxng_server.url, settings=get_settings()).search("zzqqxx", 5) == []


def test_searxng_rate_limit_carries_retry_after(
    searxng_server: SearXNGServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    searxng_server.override("/search", 429, "Too Many Requests", headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as info:
        SearXNGBackend(searxng_server.url, settings=get_settings()).search("chile", 5)
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, "Internal Server Error", "answered HTTP 500"),
        (200, "<html>not json", "did not answer with SearXNG's JSON"),
        (200, {"query": "x"}, "did not answer with SearXNG's JSON"),
    ],
)
def test_searxng_broken_answers(
    searxng_server: SearXNGServer,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: object,
    message: str,
) -> None:
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    searxng_server.override("/search", status, body)
    with pytest.raises(BackendError, match=message):
        SearXNGBackend(searxng_server.url, settings=get_settings()).search("chile", 5)


def test_searxng_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    with pytest.raises(BackendError, match=r"^unreachable \(could not connect"):
        SearXNGBackend(closed_url(), settings=get_settings()).search("chile", 5)


# --- backend order from settings --------------------------------------------------------


def test_order_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [b.name for b in backends_from_settings(get_settings())] == ["ddgs"]
    monkeypatch.setenv("AHORA_SEARCH_BACKEND", "searxng")  # chosen but no URL: ddgs still works
    assert [b.name for b in backends_from_settings(get_settings())] == ["ddgs"]
    monkeypatch.setenv("AHORA_SEARXNG_URL", "http://127.0.0.1:8888/")
    assert [b.name for b in backends_from_settings(get_settings())] == [
        "SearXNG at http://127.0.0.1:8888",
        "ddgs",
    ]
    monkeypatch.setenv("AHORA_SEARCH_BACKEND", "ddgs")
    assert [b.name for b in backends_from_settings(get_settings())] == [
        "ddgs",
        "SearXNG at http://127.0.0.1:8888",
    ]
    monkeypatch.delenv("AHORA_SEARCH_BACKEND")  # URL set, no choice: searxng first
    assert backends_from_settings(get_settings())[0].name.startswith("SearXNG")


# --- the chain ------------------------------------------------------------------------------


def test_searxng_primary_leaves_ddgs_alone(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer
) -> None:
    outcome = search("chile", 5, settings=get_settings())
    assert outcome.backend == f"SearXNG at {searxng_server.url}"
    assert len(outcome.results) == 5 and fake_ddgs.calls == []


def test_ddgs_rate_limited_falls_over_to_searxng_then_backs_off(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_SEARCH_BACKEND", "ddgs")
    fake_ddgs.push(RatelimitException("202"), RatelimitException("202"))
    outcome = search("chile", 5, settings=get_settings())
    assert outcome.backend == f"SearXNG at {searxng_server.url}"
    assert outcome.skipped == ["ddgs rate-limited (HTTP 202)"]
    assert len(fake_ddgs.calls) == 2

    # While ddgs backs off, the next search skips it without calling it.
    outcome = search("peru", 5, settings=get_settings())
    assert outcome.backend == f"SearXNG at {searxng_server.url}"
    assert outcome.skipped[0].startswith("ddgs rate-limited (backing off, ")
    assert len(fake_ddgs.calls) == 2


def test_searxng_failures_fall_over_to_ddgs(fake_ddgs: DDGSScript) -> None:
    with SearXNGServer(json_enabled=False) as srv, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AHORA_SEARXNG_URL", srv.url)
        outcome = search("chile", 3, settings=get_settings())
    assert outcome.backend == "ddgs"
    assert [r.url for r in outcome.results] == [
        f"https://ddgs.example/chile/{i}" for i in (1, 2, 3)
    ]
    assert "refused JSON (HTTP 403)" in outcome.skipped[0]


def test_everything_failing_gives_one_clear_message(
    fake_ddgs: DDGSScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = closed_url()
    monkeypatch.setenv("AHORA_SEARXNG_URL", url)
    monkeypatch.setenv("AHORA_SEARCH_BACKEND", "ddgs")
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    fake_ddgs.push(RatelimitException("202"), RatelimitException("202"))
    with pytest.raises(SearchUnavailable) as info:
        search("chile", 5, settings=get_settings())
    message = str(info.value)
    assert message.startswith(
        f"web search is unavailable right now: ddgs rate-limited (HTTP 202); SearXNG at {url}"
        f" unreachable (could not connect to {url[7:]}"
    )
    assert message.endswith(". Try again later or answer from what you know, saying so.")


def test_no_results_anywhere_is_not_an_error(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer
) -> None:
    searxng_server.corpus["zzqqxx"] = []
    fake_ddgs.push(DDGSException("No results found."), DDGSException("No results found."))
    outcome = search("zzqqxx", 5, settings=get_settings())
    assert outcome.results == [] and outcome.backend is None
    assert len(fake_ddgs.calls) == 2  # the other backend got its chance


def test_empty_primary_lets_the_next_backend_answer(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer
) -> None:
    searxng_server.corpus["rare words"] = []
    outcome = search("rare words", 2, settings=get_settings())
    assert outcome.backend == "ddgs" and len(outcome.results) == 2


# --- cache ------------------------------------------------------------------------------


def test_results_are_cached_by_normalised_query(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer
) -> None:
    first = search("Chile  elections", 5, settings=get_settings())
    again = search("  chile elections ", 5, settings=get_settings())
    assert again.cached and not first.cached
    assert again.results == first.results
    assert len(searxng_server.requests) == 1
    search(
        "chile elections", 6, settings=get_settings()
    )  # a different max_results is a different entry
    assert len(searxng_server.requests) == 2


def test_cache_can_be_disabled(
    fake_ddgs: DDGSScript, searxng_server: SearXNGServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_SEARCH_CACHE_SECONDS", "0")
    search("chile", 5, settings=get_settings())
    search("chile", 5, settings=get_settings())
    assert len(searxng_server.requests) == 2


def test_cache_entries_expire_and_are_capped() -> None:
    from ahora.search.chain import SearchOutcome

    now = [100.0]
    cache = _TTLCache(2, clock=lambda: now[0])
    cache.put(("a", 5), SearchOutcome([]))
    assert cache.get(("a", 5), ttl=10) is not None
    now[0] += 11
    assert cache.get(("a", 5), ttl=10) is None
    for key in ("x", "y", "z"):
        cache.put((key, 5), SearchOutcome([]))
    assert cache.get(("x", 5), ttl=10) is None and cache.get(("z", 5), ttl=10) is not None


# --- limiter ---------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_spaces_calls() -> None:
    now = [0.0]
    limiter = RateLimiter(rate_per_second=1.0, burst=3, clock=lambda: now[0])
    assert [limiter.acquire(max_wait=10) for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert limiter.acquire(max_wait=2.5) is None  # would wait 3 s: refused, nothing reserved
    now[0] += 10
    assert limiter.acquire(max_wait=0) == 0.0


def test_back_off_doubles_honours_retry_after_and_resets() -> None:
    now = [0.0]
    limiter = RateLimiter(rate_per_second=1.0, burst=1, backoff_seconds=10, clock=lambda: now[0])
    assert [limiter.back_off() for _ in range(3)] == [10, 20, 40]
    assert limiter.blocked_for() == 40
    now[0] += 15
    assert limiter.blocked_for() == 25
    assert limiter.back_off(retry_after=3) == 3
    limiter.succeeded()
    assert limiter.blocked_for() == 0
    assert limiter.back_off() == 10


def test_limiter_reservations_are_thread_safe() -> None:
    limiter = RateLimiter(rate_per_second=10.0, burst=5, clock=lambda: 0.0)
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(40)

    def worker() -> None:
        start.wait()
        wait = limiter.acquire(max_wait=100)
        assert wait is not None
        with lock:
            waits.append(round(wait, 6))

    threads = [threading.Thread(target=worker) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [0.0] * 5 + [round(0.1 * i, 6) for i in range(1, 36)]


def test_one_limiter_per_backend_for_the_whole_process() -> None:
    a = limiter_for("probe-backend", rate_per_second=1, burst=1, backoff_seconds=1)
    b = limiter_for("probe-backend", rate_per_second=5, burst=5, backoff_seconds=5)
    assert a is b
