"""The HTTP layer: retries and User-Agent of ``get``/``get_json``, and ``fetch_guarded``'s
redirects, caps (bytes after decompression, wall time), connect-to-the-checked-address
and TLS on the name. Everything against loopback servers."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ahora import http
from ahora.errors import BlockedURL, ToolFailure
from ahora.settings import Settings
from tests.fixtures.faults import FAULTS, assert_survived
from tests.fixtures.pages import PageServer


@pytest.fixture
def srv() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture
def allowed() -> Settings:
    return Settings(allow_private_urls=True, http_timeout=10.0)


# --- get / get_json ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [429, 503])
def test_get_json_retries_after_retry_after(srv: PageServer, code: int) -> None:
    started = time.monotonic()
    assert http.get_json(srv.url(f"/retry/{code}"), settings=Settings()) == {"ok": True}
    assert srv.hits == [f"/retry/{code}", f"/retry/{code}"]
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured


def test_get_json_reports_status_when_retries_run_out(
    srv: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    with pytest.raises(ToolFailure, match="answered HTTP 429"):
        http.get_json(srv.url("/retry/429"), settings=Settings.load())


def test_retry_after_is_capped() -> None:
    retry = http._CappedRetry()
    assert retry.parse_retry_after("3600") == http.RETRY_AFTER_MAX
    assert retry.parse_retry_after("2") == 2


def test_user_agent_names_ahora(srv: PageServer, allowed: Settings) -> None:
    assert http.get_json(srv.url("/echo-headers"), settings=Settings())["user-agent"].startswith(
        "ahora/"
    )
    http.fetch_guarded(srv.url("/plain"), settings=allowed)
    assert srv.headers[-1]["user-agent"] == http.USER_AGENT
    assert "ahora" in http.USER_AGENT


def test_get_turns_connection_errors_into_tool_failures() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    with pytest.raises(ToolFailure, match="could not connect"):
        http.get(f"http://127.0.0.1:{port}/", settings=Settings(http_retries=0))


# --- fetch_guarded ------------------------------------------------------------------


def test_fetch_returns_body_type_and_charset(srv: PageServer, allowed: Settings) -> None:
    fetched = http.fetch_guarded(srv.url("/article"), settings=allowed)
    assert fetched.status == 200
    assert fetched.content_type == "text/html"
    assert fetched.encoding == "utf-8"
    assert b"tidal lagoon" in fetched.body
    assert srv.headers[-1]["host"] == f"127.0.0.1:{srv.port}"


def test_redirects_are_followed_and_final_url_reported(srv: PageServer, allowed: Settings) -> None:
    fetched = http.fetch_guarded(srv.url("/redirect?to=/redirect%3Fto%3D/plain"), settings=allowed)
    assert fetched.final_url == srv.url("/plain")
    assert srv.hits == ["/redirect?to=/redirect%3Fto%3D/plain", "/redirect?to=/plain", "/plain"]


def test_redirect_loops_stop(srv: PageServer, allowed: Settings) -> None:
    with pytest.raises(ToolFailure, match="redirected more than 5 times"):
        http.fetch_guarded(srv.url("/loop/0"), settings=allowed)
    assert len(srv.hits) == http.MAX_REDIRECTS + 1


def test_error_statuses_are_returned(srv: PageServer, allowed: Settings) -> None:
    assert http.fetch_guarded(srv.url("/status/404"), settings=allowed).status == 404


def test_scheme_check_survives_allow_private(srv: PageServer, allowed: Settings) -> None:
    with pytest.raises(BlockedURL, match="only http"):
        http.fetch_guarded(srv.url("/redirect?to=file:///etc/passwd"), settings=allowed)


@pytest.mark.parametrize("path", ["/gzip-bomb", "/gzip-bomb-chunked"])
def test_gzip_bomb_stops_at_the_byte_cap(srv: PageServer, allowed: Settings, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(ToolFailure, match="larger than the 1,000,000-byte limit"):
        http.fetch_guarded(srv.url(path), settings=allowed, max_bytes=1_000_000)
    assert time.monotonic() - started < 5


def test_gzip_below_the_cap_is_decompressed(srv: PageServer, allowed: Settings) -> None:
    fetched = http.fetch_guarded(srv.url("/gzip-bomb"), settings=allowed, max_bytes=20_000_000)
    assert len(fetched.body) == 10_000_000


def test_declared_oversize_is_refused_before_reading(srv: PageServer, allowed: Settings) -> None:
    with pytest.raises(ToolFailure, match="larger than the 1,000-byte limit"):
        http.fetch_guarded(srv.url("/article"), settings=allowed, max_bytes=1_000)


def test_endless_body_stops_at_the_byte_cap(srv: PageServer, allowed: Settings) -> None:
    started = time.monotonic()
    with pytest.raises(ToolFailure, match="larger than"):
        http.fetch_guarded(srv.url("/endless"), settings=allowed, max_bytes=2_000_000)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("path", ["/trickle", "/slow-headers"])
def test_slow_servers_stop_at_the_wall_time_cap(
    srv: PageServer, allowed: Settings, path: str
) -> None:
    started = time.monotonic()
    with pytest.raises(ToolFailure, match="took longer than 1 seconds"):
        http.fetch_guarded(srv.url(path), settings=allowed, timeout=1.0)
    assert time.monotonic() - started < 4


def test_connects_to_the_checked_address_without_a_second_lookup(
    srv: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebinding DNS answers loopback first, then a private address: the second answer
    must never be asked for, and the Host header keeps the name."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: str, port: object, *args: object, **kwargs: object) -> object:
        if host == "rebind.test":
            lookups.append(host)
            ip = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    fetched = http.fetch_guarded(
        f"http://rebind.test:{srv.port}/plain",
        settings=Settings(http_timeout=5.0),
        trusted_hosts={"rebind.test"},
    )
    assert fetched.status == 200
    assert lookups == ["rebind.test"]
    assert srv.headers[-1]["host"] == f"rebind.test:{srv.port}"


def test_next_checked_address_is_tried_when_the_first_refuses() -> None:
    with PageServer(ipv6=False) as v4_only:  # nothing listens on [::1] at this port
        fetched = http.fetch_guarded(
            f"http://two.test:{v4_only.port}/plain",
            settings=Settings(http_timeout=5.0),
            resolver=lambda host, port: ["::1", "127.0.0.1"],
            trusted_hosts={"two.test"},
        )
    assert fetched.status == 200


# --- TLS: connect to the checked IP, but SNI and certificate checks use the name -------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[str]]]:
    cert, key = _self_signed(tmp_path, "secure.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str] = []

    def remember(sock: Any, name: str | None, ctx: Any) -> None:
        names.append(name or "")

    context.sni_callback = remember

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"secret-free hello"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

        def get_request(self) -> tuple[Any, Any]:
            sock, addr = super().get_request()
            return context.wrap_socket(sock, server_side=True), addr

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # handshakes the client rejects end here

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], cert, names
    finally:
        server.shutdown()
        server.server_close()


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_uses_the_name_for_sni_and_certificate(
    tls_server: tuple[int, Path, list[str]],
) -> None:
    port, cert, names = tls_server
    fetched = http.fetch_guarded(
        f"https://secure.test:{port}/",
        settings=Settings(http_timeout=5.0),
        resolver=lambda host, p: ["127.0.0.1"],
        trusted_hosts={"secure.test"},
        ca_certs=str(cert),
    )
    assert fetched.body == b"secret-free hello"
    assert names == ["secure.test"]


def test_https_refuses_a_certificate_for_another_name(
    tls_server: tuple[int, Path, list[str]],
) -> None:
    port, cert, _ = tls_server
    with pytest.raises(ToolFailure, match=r"TLS connection to other\.test failed"):
        http.fetch_guarded(
            f"https://other.test:{port}/",
            settings=Settings(http_timeout=5.0),
            resolver=lambda host, p: ["127.0.0.1"],
            trusted_hosts={"other.test"},
            ca_certs=str(cert),
        )


@pytest.mark.parametrize("fault", ["data_dir_read_only_tools", "http_cache_locked"])
def test_fault_is_survived(fault: str, tmp_path: Path) -> None:
    """The HTTP cache failing costs speed, not answers."""
    assert_survived(FAULTS[fault], tmp_path)
