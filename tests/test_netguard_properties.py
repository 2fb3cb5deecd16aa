"""The guard's matching rules as properties: a trusted host is that host exactly, every
metadata address is refused whatever else is allowed, and the guarded fetch connects
where the guard checked, whatever proxy the environment names."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ahora import http, netguard
from ahora.errors import BlockedURL
from ahora.settings import Settings
from tests.fixtures.pages import PageServer

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
HOST = st.lists(LABEL, min_size=2, max_size=4).map(".".join)


def loopback(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"]


def _near_misses(trusted: str) -> list[str]:
    """Names a suffix, prefix or substring match would confuse with ``trusted``."""
    first, _, rest = trusted.partition(".")
    return [
        f"evil-{trusted}",  # ends with it
        f"evil{trusted}",
        f"www.{trusted}",  # a subdomain: not the same host
        f"{trusted}.evil.net",  # starts with it
        f"{first}x.{rest}",
        rest,  # the parent domain
    ]


@settings(max_examples=100, deadline=None)
@given(HOST, st.sampled_from([str.lower, str.upper, str.title]), st.booleans())
def test_a_trusted_host_is_that_host_exactly(trusted: str, case: object, dot: bool) -> None:
    spelled = case(trusted) + ("." if dot else "")  # type: ignore[operator]
    url_host = case(trusted) + ("." if not dot else "")  # type: ignore[operator]
    target = netguard.check_url(
        f"http://{url_host}/page", trusted_hosts=[spelled], resolver=loopback
    )
    assert target.addresses == ("127.0.0.1",)
    for other in _near_misses(trusted):
        if other in (trusted, ""):
            continue
        with pytest.raises(BlockedURL, match="private or loopback"):
            netguard.check_url(f"http://{other}/page", trusted_hosts=[spelled], resolver=loopback)


# Written out here, not read from the module: removing one from the module must fail.
METADATA = [
    "169.254.169.254",
    "169.254.170.2",
    "169.254.170.23",
    "169.254.0.23",
    "fd00:ec2::254",
    "fd00:ec2::23",
    "fd20:ce::254",
    "fd00:c1::a9fe:a9fe",
    "100.100.100.200",
    "192.0.0.192",
    "168.63.129.16",
]
METADATA_NAMES = [
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "metadata.azure.internal",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.tencentyun.com",
    "metadata.platformequinix.com",
]


@pytest.mark.parametrize("address", METADATA)
def test_every_metadata_address_is_named_and_refused_whatever_is_allowed(address: str) -> None:
    assert netguard.address_problem(address) == netguard.METADATA_PROBLEM
    assert netguard.is_metadata_address(address)

    def resolver(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34", address]  # a public address first, then metadata

    for allow_private in (False, True):
        with pytest.raises(BlockedURL, match="cloud metadata service"):
            netguard.check_url(
                "http://innocent.example/latest/meta-data/",
                allow_private=allow_private,
                trusted_hosts=["innocent.example"],
                resolver=resolver,
            )


@pytest.mark.parametrize("name", METADATA_NAMES)
def test_every_metadata_name_is_refused_before_resolving(name: str) -> None:
    def resolver(host: str, port: int) -> Sequence[str]:
        raise AssertionError("resolved a metadata name")

    for spelled in (name, name.upper(), name + "."):
        with pytest.raises(BlockedURL, match="cloud metadata service"):
            netguard.check_url(
                f"http://{spelled}/", allow_private=True, trusted_hosts=[name], resolver=resolver
            )


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255))
def test_all_of_link_local_ipv4_is_metadata(c: int, d: int) -> None:
    assert netguard.is_metadata_address(f"169.254.{c}.{d}")
    assert netguard.is_metadata_address(f"::ffff:169.254.{c}.{d}")  # and mapped into IPv6


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_the_guarded_fetch_ignores_proxy_variables(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a proxy the guard would check one address and connect to another: the
    proxy named in the environment must not see the request; the checked host must."""
    with PageServer(ipv6=False) as target, PageServer(ipv6=False) as proxy:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy.port}")
        fetched = http.fetch_guarded(
            target.url("/status/204"),
            settings=Settings(http_timeout=5.0),
            trusted_hosts=["127.0.0.1"],
        )
        assert fetched.status == 204
        assert proxy.hits == [] and len(target.hits) == 1


# --- what the model is told: each problem named exactly ----------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("::", "the unspecified address"),
        ("0.0.0.0", "the unspecified address"),
        ("::1", "a loopback address"),
        ("127.0.0.1", "a loopback address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("100.64.0.1", "a carrier-grade NAT address"),
        ("64:ff9b:1::1", "a private address (embedded in 64:ff9b:1::1)"),
        ("10.0.0.1", "a private address"),
        ("240.0.0.1", "a private address"),
        ("192.88.99.1", "a reserved address"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_each_problem_is_named_exactly(address: str, problem: str | None) -> None:
    assert netguard.address_problem(address) == problem


def test_a_url_without_a_scheme_is_named_so() -> None:
    with pytest.raises(BlockedURL, match=r"not a URL without a scheme$"):
        netguard.check_url("//example.com/page", resolver=loopback)


@pytest.mark.parametrize("length", [199, 200, 201, 300])
def test_a_url_is_quoted_whole_up_to_200_characters(length: int) -> None:
    url = "ftp://example.com/" + "a" * (length - len("ftp://example.com/"))
    with pytest.raises(BlockedURL) as info:
        netguard.check_url(url, resolver=loopback)
    message = str(info.value)
    if length <= 200:
        assert url in message and "..." not in message
    else:
        assert url[:197] + "..." in message and url not in message


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("http://example.com/", 80),
        ("https://example.com/", 443),
        ("http://example.com:8080/", 8080),
    ],
)
def test_the_resolver_is_asked_for_the_port_that_will_be_used(url: str, port: int) -> None:
    asked: list[tuple[str, int]] = []

    def resolver(host: str, p: int) -> Sequence[str]:
        asked.append((host, p))
        return ["93.184.216.34"]

    assert netguard.check_url(url, resolver=resolver).port == port
    assert asked == [("example.com", port)]
