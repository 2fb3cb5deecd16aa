"""Configured services follow redirects only through the address guard (issue 18,
item 15): SearXNG, geocoding and the forecast are the operator's choice, where they
redirect to is not, so a hop to a metadata, loopback or private address is refused
and nothing connects there; a hop within the configured origin is still followed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ahora import http
from ahora.errors import BackendError, BlockedURL, ToolFailure
from ahora.search.searxng import SearXNGBackend
from ahora.settings import Settings
from ahora.tools.weather import geocode

SEARXNG_JSON = {
    "query": "q",
    "results": [{"url": "https://a.example/", "title": "A", "content": "a"}],
}


class Service:
    """A loopback service: ``/go?to=URL`` redirects there, anything else answers JSON;
    every path it was asked for is recorded."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service.hits.append(self.path)
                if service.redirect_to and not self.path.startswith("/final"):
                    self.send_response(302)
                    self.send_header("Location", service.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(SEARXNG_JSON | {"results_for": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.redirect_to = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def services() -> Iterator[tuple[Service, Service]]:
    configured, internal = Service(), Service()
    yield configured, internal
    configured.close()
    internal.close()


def _private_targets(internal: Service) -> list[str]:
    port = internal.url.rsplit(":", 1)[1]
    return [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://metadata.google.internal/computeMetadata/v1/",
        f"{internal.url}/final/admin",  # another loopback service
        f"http://localhost:{port}/final/admin",
        f"http://[::ffff:127.0.0.1]:{port}/final/admin",
        "http://10.0.0.1/final",
    ]


def test_searxng_redirect_to_private_addresses_is_refused(
    services: tuple[Service, Service], tmp_path: Path
) -> None:
    configured, internal = services
    settings = Settings(home=tmp_path, http_retries=0, http_timeout=5)
    for target in _private_targets(internal):
        configured.redirect_to = target
        with pytest.raises(BackendError, match="not followed"):
            SearXNGBackend(configured.url, settings=settings).search("q", 5)
    assert internal.hits == []  # nothing ever connected there


def test_geocoding_redirect_to_metadata_is_refused(
    services: tuple[Service, Service], tmp_path: Path
) -> None:
    configured, internal = services
    settings = Settings(home=tmp_path, geocoding_url=configured.url, http_retries=0)
    for target in _private_targets(internal):
        configured.redirect_to = target
        with pytest.raises(ToolFailure, match="not followed"):
            geocode("Paris, France", settings)
    assert internal.hits == []


def test_redirects_within_the_configured_origin_still_work(
    services: tuple[Service, Service], tmp_path: Path
) -> None:
    configured, _ = services
    settings = Settings(home=tmp_path, http_retries=0)
    configured.redirect_to = f"{configured.url}/final/search"
    results = SearXNGBackend(configured.url, settings=settings).search("q", 5)
    assert [r.url for r in results] == ["https://a.example/"]
    configured.redirect_to = "/final/relative"
    resp = http.get(f"{configured.url}/start", settings=settings)
    assert resp.json()["results_for"] == "/final/relative"


def test_allow_private_urls_lets_a_redirect_reach_a_private_service(
    services: tuple[Service, Service], tmp_path: Path
) -> None:
    configured, internal = services
    settings = Settings(home=tmp_path, http_retries=0, allow_private_urls=True)
    configured.redirect_to = f"{internal.url}/final/x"
    assert http.get(configured.url, settings=settings).json()["results_for"] == "/final/x"
    configured.redirect_to = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(BlockedURL):  # metadata never, whatever the setting
        http.get(configured.url, settings=settings)
