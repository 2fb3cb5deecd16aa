"""The private-address guard: the address rules, then an SSRF corpus fetched for real.

The corpus is run through ``ahora.http.fetch_guarded`` against a loopback "canary"
server (on 127.0.0.1 and ::1, same port) that counts requests: with the guard on, every
form must raise ``BlockedURL`` and the canary must receive nothing. Names that must
look public are given to the guard through a fake resolver (a stand-in for the OS
resolver, not for our code); numeric forms go through the real ``getaddrinfo``.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator, Sequence
from urllib.parse import quote

import pytest

from ahora import http, netguard
from ahora.errors import BlockedURL, ToolFailure
from ahora.settings import Settings
from tests.fixtures.pages import PageServer

PUBLIC_IP = "93.184.216.34"


class FakeResolver:
    """Answers for made-up names; numeric hosts go to the OS without DNS."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host in self.table:
            return list(self.table[host])
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        return [str(i[4][0]) for i in infos]


NAMES: dict[str, Sequence[str]] = {
    "first-hop.test": ["127.0.0.1"],
    "canary-ok.test": ["127.0.0.1"],
    "news.example.com": ["127.0.0.1"],
    "cdn.example.net": [PUBLIC_IP, "127.0.0.1"],
    "v6.example.org": ["::1"],
    "mapped.example.org": ["::ffff:127.0.0.1"],
    "intranet.example.com": ["10.1.2.3"],
    "cloud.example.com": ["169.254.169.254"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
}


def corpus(port: int) -> list[str]:
    """Addresses that must never be reached (port: the canary's)."""
    p = port
    return [
        f"http://127.0.0.1:{p}/",
        f"http://2130706433:{p}/",  # decimal
        f"http://0177.0.0.1:{p}/",  # octal
        f"http://017700000001:{p}/",  # octal, one number
        f"http://0x7f.1:{p}/",  # hex, short
        f"http://0x7f000001:{p}/",  # hex, one number
        f"http://127.1:{p}/",  # short
        f"http://127.0.1:{p}/",
        f"http://0.0.0.0:{p}/",
        f"http://0:{p}/",
        f"http://[::1]:{p}/",
        f"http://[::]:{p}/",
        f"http://[::ffff:127.0.0.1]:{p}/",  # IPv4-mapped
        f"http://[::ffff:7f00:1]:{p}/",
        f"http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/",
        f"http://[64:ff9b::7f00:1]:{p}/",  # NAT64 embedding loopback
        f"http://[2002:7f00:1::]:{p}/",  # 6to4 embedding loopback
        f"http://localhost:{p}/",
        f"http://localhost.:{p}/",
        f"http://LOCALHOST:{p}/",
        f"http://app.localhost:{p}/",
        f"http://user:secret@127.0.0.1:{p}/",
        f"http://news.example.com:{p}/",  # public-looking name -> 127.0.0.1
        f"http://cdn.example.net:{p}/",  # one public and one private address
        f"http://v6.example.org:{p}/",  # name -> ::1
        f"http://mapped.example.org:{p}/",  # name -> ::ffff:127.0.0.1
        f"http://127.0.0.1.nip.io:{p}/",
        "http://intranet.example.com/",  # name -> 10/8
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://169.254.169.254/latest/meta-data/",
        "http://cloud.example.com/latest/meta-data/",  # name -> metadata address
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata/",
        "http://instance-data/latest/",
        "http://[fe80::1]/",
        "http://[fe80::1%25lo]/",
        "http://[fc00::1]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://255.255.255.255/",
        "http://198.18.0.1/",
        f"file:///etc/passwd?{p}",
        f"ftp://127.0.0.1:{p}/",
        f"gopher://127.0.0.1:{p}/_GET%20/",
        f"dict://127.0.0.1:{p}/info",
        "data:text/html,<h1>hi</h1>",
        "javascript:alert(1)",
        f"127.0.0.1:{p}/",
        f"//127.0.0.1:{p}/",
    ]


CORPUS_SIZE = len(corpus(0))


def _relative(url: str) -> bool:
    """A scheme-less URL: as a Location header it is a path on the same (allowed) host."""
    return re.match(r"^([a-z][a-z0-9+.-]*:|//)", url, re.IGNORECASE) is None


@pytest.fixture(scope="module")
def canary() -> Iterator[PageServer]:
    with PageServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def first_hop() -> Iterator[PageServer]:
    with PageServer() as srv:
        yield srv


@pytest.fixture
def guarded() -> Settings:
    return Settings(allow_private_urls=False, http_timeout=5.0)


# --- the address rules ------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "100.127.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "198.18.0.1",
        "203.0.113.9",
        "::",
        "::1",
        "fe80::1",
        "fe80::1%2",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "64:ff9b:1::1",
        "2002:7f00:1::1",
        "2002:a00:1::1",
        "::7f00:1",
        "2001:db8::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert netguard.address_problem(address) is not None


@pytest.mark.parametrize(
    "address",
    [PUBLIC_IP, "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert netguard.address_problem(address) is None


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("169.254.169.254", "metadata"),
    ],
)
def test_problems_are_named(address: str, words: str) -> None:
    assert words in (netguard.address_problem(address) or "")


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0"])
def test_odd_spellings_are_judged_as_the_os_reads_them(host: str) -> None:
    # The real resolver (numeric, no DNS) normalises them; the check runs on its answer.
    with pytest.raises(BlockedURL, match="private or loopback"):
        netguard.check_url(f"http://{host}/")


def test_every_resolved_address_is_checked() -> None:
    resolver = FakeResolver({"cdn.example.net": [PUBLIC_IP, "10.0.0.7"]})
    with pytest.raises(BlockedURL, match=r"10\.0\.0\.7 is a private address"):
        netguard.check_url("http://cdn.example.net/", resolver=resolver)


def test_public_target_keeps_name_for_host_header_and_tls() -> None:
    resolver = FakeResolver({"www.example.com": [PUBLIC_IP, "2606:2800:220:1::248"]})
    target = netguard.check_url(
        "https://user:pw@WWW.Example.com:8443/a b?q=1#frag", resolver=resolver
    )
    assert target.host == "www.example.com"
    assert target.host_header == "www.example.com:8443"
    assert target.addresses == (PUBLIC_IP, "2606:2800:220:1::248")
    assert target.request_target == "/a%20b?q=1"
    assert target.url == "https://www.example.com:8443/a%20b?q=1"


def test_allow_private_lifts_the_address_check_but_not_scheme_or_metadata() -> None:
    resolver = FakeResolver({"cloud.example.com": ["169.254.169.254"]})
    assert netguard.check_url("http://127.0.0.1/", allow_private=True).addresses == ("127.0.0.1",)
    with pytest.raises(BlockedURL, match="only http"):
        netguard.check_url("file:///etc/passwd", allow_private=True)
    with pytest.raises(BlockedURL, match="metadata"):
        netguard.check_url("http://169.254.169.254/", allow_private=True)
    with pytest.raises(BlockedURL, match="metadata"):
        netguard.check_url("http://cloud.example.com/", allow_private=True, resolver=resolver)
    with pytest.raises(BlockedURL, match="metadata"):
        netguard.check_url("http://metadata.google.internal./", allow_private=True)


def test_unresolvable_name_is_a_failure_not_a_refusal() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(ToolFailure, match="could not resolve") as info:
        netguard.check_url("http://no-such-host.example/", resolver=nowhere)
    assert not isinstance(info.value, BlockedURL)


# --- the corpus, fetched for real -----------------------------------------------------


def test_corpus_is_large_enough(canary: PageServer) -> None:
    assert len(corpus(canary.port)) >= 25


def test_the_canary_is_reachable_when_allowed(canary: PageServer) -> None:
    """Control: without the guard the same forms DO reach the canary, so zero hits means
    the guard stopped them, not that the canary was unreachable."""
    before = len(canary.hits)
    resolver = FakeResolver(NAMES)
    allowed = Settings(allow_private_urls=True, http_timeout=5.0)
    reachable = [
        f"http://2130706433:{canary.port}/status/204",
        f"http://0x7f.1:{canary.port}/status/204",
        f"http://news.example.com:{canary.port}/status/204",
    ]
    if canary.has_ipv6:
        reachable.append(f"http://[::1]:{canary.port}/status/204")
    for url in reachable:
        assert http.fetch_guarded(url, settings=allowed, resolver=resolver).status == 204
    assert len(canary.hits) == before + len(reachable)
    canary.hits.clear()


@pytest.mark.parametrize("index", range(CORPUS_SIZE))
def test_corpus_url_is_refused_and_never_reached(
    index: int, canary: PageServer, guarded: Settings
) -> None:
    url = corpus(canary.port)[index]
    with pytest.raises(BlockedURL) as info:
        http.fetch_guarded(url, settings=guarded, resolver=FakeResolver(NAMES))
    assert str(info.value).startswith("refusing to read")
    assert canary.hits == []


@pytest.mark.parametrize("index", [i for i in range(CORPUS_SIZE) if not _relative(corpus(0)[i])])
def test_redirect_to_corpus_url_is_refused_and_never_reached(
    index: int, canary: PageServer, first_hop: PageServer, guarded: Settings
) -> None:
    url = corpus(canary.port)[index]
    before = len(first_hop.hits)
    start = f"http://first-hop.test:{first_hop.port}/redirect?to={quote(url, safe='')}"
    with pytest.raises(BlockedURL):
        http.fetch_guarded(
            start,
            settings=guarded,
            resolver=FakeResolver(NAMES),
            trusted_hosts={"first-hop.test"},
        )
    assert len(first_hop.hits) == before + 1  # the first hop was really fetched
    assert canary.hits == []


def test_redirect_to_a_trusted_host_is_followed(
    canary: PageServer, first_hop: PageServer, guarded: Settings
) -> None:
    """Control for the redirect corpus: the same redirect path reaches an allowed target."""
    to = quote(f"http://canary-ok.test:{canary.port}/plain", safe="")
    fetched = http.fetch_guarded(
        f"http://first-hop.test:{first_hop.port}/redirect?to={to}",
        settings=guarded,
        resolver=FakeResolver(NAMES),
        trusted_hosts={"first-hop.test", "canary-ok.test"},
    )
    assert fetched.body.startswith(b"Plain notes.")
    assert fetched.final_url == f"http://canary-ok.test:{canary.port}/plain"
    assert canary.hits == ["/plain"]
    canary.hits.clear()


def test_monkeypatched_os_resolver_is_honoured(
    canary: PageServer, guarded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default resolver is the OS's: a name it maps to loopback is refused."""
    real = socket.getaddrinfo

    def fake_getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> object:
        if host == "totally-public.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(BlockedURL, match=r"127\.0\.0\.1 is a loopback address"):
        http.fetch_guarded(f"http://totally-public.example:{canary.port}/", settings=guarded)
    assert canary.hits == []


# --- edges: scoped addresses, odd names, empty answers, the Host header -------------------


@pytest.mark.parametrize("scoped", ["fd00:ec2::254%eth0", "fd00:ec2::254%2"])
def test_a_scoped_metadata_address_is_refused_even_with_private_urls_allowed(scoped: str) -> None:
    assert netguard.address_problem(scoped) == "a cloud metadata address"
    resolver = FakeResolver({"imds.example.com": [scoped]})
    with pytest.raises(BlockedURL, match="metadata"):
        netguard.check_url("http://imds.example.com/", allow_private=True, resolver=resolver)


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("fe80::1%eth0", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a00:1", "private"),
        ("64:ff9b:1::1", "private address (embedded"),
        ("2002:7f00:1::1", "loopback address (embedded"),
        ("::", "unspecified"),
        ("192.168.1.1", "private"),
    ],
)
def test_ipv6_problems_are_named_as_what_they_embed(address: str, words: str) -> None:
    assert words in (netguard.address_problem(address) or "")


def test_an_over_long_idna_label_is_a_failure_not_a_crash() -> None:
    """A label over 63 characters cannot be encoded; the OS resolver raises UnicodeError."""
    with pytest.raises(ToolFailure, match="could not resolve"):
        netguard.check_url(f"http://{'a' * 64}.example/")


def test_a_resolver_with_no_address_is_a_failure() -> None:
    with pytest.raises(ToolFailure, match=r"could not resolve the host name 'empty\.example'"):
        netguard.check_url("http://empty.example/", resolver=FakeResolver({"empty.example": []}))


def test_a_resolver_answer_that_is_not_an_address_is_refused() -> None:
    resolver = FakeResolver({"odd.example": ["not-an-address"]})
    with pytest.raises(BlockedURL, match="unexpected address 'not-an-address'"):
        netguard.check_url("http://odd.example/", resolver=resolver)


@pytest.mark.parametrize(
    ("url", "host_header", "port", "normalised"),
    [
        ("https://www.example.com:443/x", "www.example.com", 443, "https://www.example.com/x"),
        ("https://www.example.com/x", "www.example.com", 443, "https://www.example.com/x"),
        ("http://www.example.com:80/x", "www.example.com", 80, "http://www.example.com/x"),
        ("http://www.example.com:443/", "www.example.com:443", 443, "http://www.example.com:443/"),
        ("https://www.example.com:80", "www.example.com:80", 80, "https://www.example.com:80/"),
        ("HTTP://www.example.com?q", "www.example.com", 80, "http://www.example.com/?q"),
    ],
)
def test_the_host_header_carries_the_port_only_when_it_is_not_the_default(
    url: str, host_header: str, port: int, normalised: str
) -> None:
    resolver = FakeResolver({"www.example.com": [PUBLIC_IP]})
    target = netguard.check_url(url, resolver=resolver)
    assert (target.host_header, target.port, target.url) == (host_header, port, normalised)
    assert target.scheme == url.split(":", 1)[0].lower()


def test_an_ipv6_literal_is_bracketed_in_the_host_header() -> None:
    target = netguard.check_url("http://[2606:4700:4700::1111]:8080/dns")
    assert target.host == "2606:4700:4700::1111"
    assert target.host_header == "[2606:4700:4700::1111]:8080"
    assert target.addresses == ("2606:4700:4700::1111",)
    assert target.request_target == "/dns"


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost"])
def test_localhost_names_are_refused_without_asking_the_resolver(host: str) -> None:
    resolver = FakeResolver({})
    with pytest.raises(BlockedURL, match="private or loopback"):
        netguard.check_url(f"http://{host}/", resolver=resolver)
    assert resolver.calls == []


def test_a_trusted_host_is_exempt_but_only_that_host() -> None:
    resolver = FakeResolver({"wiki.corp": ["10.1.2.3"], "db.corp": ["10.1.2.4"]})
    target = netguard.check_url(
        "http://WIKI.corp/page", trusted_hosts=["Wiki.Corp."], resolver=resolver
    )
    assert target.addresses == ("10.1.2.3",)
    with pytest.raises(BlockedURL, match=r"10\.1\.2\.4 is a private address"):
        netguard.check_url("http://db.corp/", trusted_hosts=["wiki.corp"], resolver=resolver)
    with pytest.raises(BlockedURL, match="metadata"):
        netguard.check_url("http://metadata/", trusted_hosts=["metadata"], resolver=resolver)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/", "not ftp:"),
        ("example.com/page", "without a scheme"),
        ("http:///nohost", "no host name"),
        ("http://exa mple.com:99999999/", "not a valid URL"),
    ],
)
def test_urls_that_cannot_be_read_say_why(url: str, words: str) -> None:
    with pytest.raises(BlockedURL, match=words):
        netguard.check_url(url, resolver=FakeResolver({}))


def test_a_very_long_url_is_shortened_in_the_message() -> None:
    with pytest.raises(BlockedURL) as info:
        netguard.check_url("ftp://example.com/" + "x" * 500)
    url = "ftp://example.com/" + "x" * 500
    assert f"refusing to read {url[:197]}...:" in str(info.value)  # 200 characters in all


# --- metadata endpoints stay refused with AHORA_ALLOW_PRIVATE_URLS=1 (issue 9, item 13) ---

METADATA_FORMS = [
    "169.254.169.254",
    "169.254.0.23",  # Tencent
    "169.254.42.42",  # anywhere in IPv4 link-local
    "fd20:ce::254",  # GCP over IPv6
    "fd00:c1::a9fe:a9fe",  # Oracle over IPv6
    "fd00:ec2::254",
    "fd20:ce::254%eth0",  # scoped
    "::ffff:169.254.169.254",  # IPv4-mapped
    "::ffff:a9fe:a9fe",
    "::a9fe:a9fe",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe",  # NAT64
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
    "2002:a9fe:a9fe::",  # 6to4
    "2002:a9fe:a9fe:1::1",
    "2002:a9fe:17::",  # 6to4 embedding Tencent's 169.254.0.23
    "2002:6464:64c8::1",  # 6to4 embedding Alibaba's 100.100.100.200
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254
    "::ffff:168.63.129.16",  # Azure wire server, mapped
]


@pytest.mark.parametrize("address", METADATA_FORMS)
def test_metadata_addresses_are_recognised_in_every_form(address: str) -> None:
    assert netguard.is_metadata_address(address)


@pytest.mark.parametrize("address", METADATA_FORMS)
def test_metadata_is_refused_even_when_private_urls_are_allowed(address: str) -> None:
    resolver = FakeResolver({"innocent.example.com": [address]})
    with pytest.raises(BlockedURL, match="metadata"):
        netguard.check_url("http://innocent.example.com/", allow_private=True, resolver=resolver)


@pytest.mark.parametrize(
    "url",
    [
        "http://[fd20:ce::254]/computeMetadata/v1/",
        "http://[fd00:c1::a9fe:a9fe]/opc/v2/instance/",
        "http://169.254.0.23/latest/meta-data/",
        "http://[2002:a9fe:a9fe::]/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/",
    ],
)
def test_metadata_literals_are_refused_when_private_urls_are_allowed(url: str) -> None:
    with pytest.raises(BlockedURL, match="metadata"):
        netguard.check_url(url, allow_private=True, resolver=FakeResolver({}))


@pytest.mark.parametrize("address", ["10.0.0.1", "127.0.0.1", "::1", "fd12:3456::1", PUBLIC_IP])
def test_ordinary_private_addresses_are_not_metadata(address: str) -> None:
    assert not netguard.is_metadata_address(address)
