"""The served agent answers its operator, not any website (issue 18, item 6): a real
``langgraph dev`` on loopback, started from the repository's ``langgraph.json``, gives
a cross-origin preflight from a stranger's site neither ``Access-Control-Allow-Origin``
nor the private-network allowance, and still lets a loopback front end in."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from ahora.server_http import NoPrivateNetworkForStrangers
from tests.test_server import ROOT, langgraph_dev  # noqa: F401  (the fixture)


def preflight(url: str, origin: str, method: str = "OPTIONS") -> dict[str, str]:
    request = urllib.request.Request(
        f"{url}/threads",
        method=method,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:  # a refused preflight is a 400
        return {k.lower(): v for k, v in exc.headers.items()}


def test_langgraph_json_allows_no_foreign_origin() -> None:
    http = json.loads((ROOT / "langgraph.json").read_text())["http"]
    assert http["cors"]["allow_origins"] == [] and http["app"] == "ahora.server_http:app"
    assert "*" not in json.dumps(http["cors"]["allow_origin_regex"])


@pytest.mark.slow
def test_a_strangers_preflight_gets_no_allowance(langgraph_dev: tuple[str, object]) -> None:  # noqa: F811
    url, _ = langgraph_dev
    for origin in ("https://evil.example", "http://localhost.evil.example", "null"):
        headers = preflight(url, origin)
        assert "access-control-allow-origin" not in headers, (origin, headers)
        assert "access-control-allow-private-network" not in headers, (origin, headers)
        assert "access-control-allow-credentials" not in headers
    for origin in ("http://localhost:3000", "http://127.0.0.1:5173"):
        headers = preflight(url, origin)
        assert headers.get("access-control-allow-origin") == origin, headers
        assert headers.get("access-control-allow-private-network") == "true"


async def test_the_middleware_keeps_the_allowance_only_with_an_allowed_origin() -> None:
    sent: list[dict[str, object]] = []

    def app_with(headers: list[tuple[bytes, bytes]]) -> NoPrivateNetworkForStrangers:
        async def inner(scope: object, receive: object, send: object) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": headers})  # type: ignore[operator]

        return NoPrivateNetworkForStrangers(inner)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    pna = (b"Access-Control-Allow-Private-Network", b"true")
    await app_with([pna])({"type": "http"}, None, send)  # type: ignore[arg-type]
    await app_with([pna, (b"access-control-allow-origin", b"http://localhost")])(
        {"type": "http"},
        None,
        send,  # type: ignore[arg-type]
    )
    assert sent[0]["headers"] == [] and pna in sent[1]["headers"]  # type: ignore[operator]
