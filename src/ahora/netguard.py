"""The private-address guard for URLs that come from a model (server-side request forgery).

A model can be talked into asking for ``http://169.254.169.254/`` (cloud credentials),
``http://localhost:6379/`` or a name whose DNS answer points inside the network.
:func:`check_url` decides, before any byte is sent, whether a URL may be fetched:

1. only ``http`` and ``https`` (always, even when private addresses are allowed);
2. cloud-metadata host names are refused without asking DNS;
3. the host is resolved once with the system resolver (so odd spellings such as
   ``2130706433``, ``0177.0.0.1``, ``0x7f.1`` or ``127.1`` are read exactly as the
   OS reads them) and EVERY address it resolves to must be public: loopback,
   private, link-local, carrier-grade NAT, multicast, unspecified, reserved,
   documentation and unique-local ranges are refused, and so are IPv6 forms that
   embed such an IPv4 address (IPv4-mapped ``::ffff:127.0.0.1``, NAT64
   ``64:ff9b::/96``, 6to4 ``2002::/16``);
4. the checked addresses are returned in a :class:`Target`, and the caller
   (:func:`ahora.http.fetch_guarded`) connects to one of *those* addresses, never
   resolving the name again: a DNS-rebinding server gets no second answer.

``allow_private`` (``AHORA_ALLOW_PRIVATE_URLS=1``, for tests and intranets) lifts
step 3 but not steps 1 and 2: cloud-metadata addresses stay refused, since no
legitimate page lives there. ``trusted_hosts`` exempts exact host names from
step 3 (an intranet wiki, say) without opening every private address.

Everything here is pure: the resolver is a parameter, so tests can fake the OS
resolver without touching the network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from ahora.errors import BlockedURL

__all__ = [
    "ALLOWED_SCHEMES",
    "METADATA_ADDRESSES",
    "METADATA_HOSTNAMES",
    "METADATA_NETWORKS",
    "METADATA_PROBLEM",
    "Resolver",
    "Target",
    "address_problem",
    "check_url",
    "embedded_addresses",
    "is_metadata_address",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: ``resolver(host, port)`` returns the IP addresses (as strings) the host resolves to.
Resolver = Callable[[str, int], Sequence[str]]

ALLOWED_SCHEMES = frozenset({"http", "https"})

#: Cloud and container metadata endpoints. Refused even when private URLs are allowed.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "169.254.0.23",  # Tencent Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
        "fd00:c1::a9fe:a9fe",  # Oracle Cloud over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
        "168.63.129.16",  # Azure wire server (a public-range address)
    )
)

#: Whole ranges treated as metadata: every cloud puts its IPv4 metadata services in
#: link-local 169.254.0.0/16, and no page an agent should read lives there.
METADATA_NETWORKS = (ipaddress.ip_network("169.254.0.0/16"),)

#: Host names of metadata services (compared lower-case, without a trailing dot).
METADATA_HOSTNAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)

# Ranges that ``ipaddress`` does not flag on every Python version (3.11 calls some of
# them global), refused explicitly.
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",  # IETF protocol assignments
        "192.88.99.0/24",  # 6to4 relay anycast
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/96",  # IPv4-compatible (deprecated)
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, Teredo
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link local
        "fec0::/10",  # site local (deprecated)
        "ff00::/8",  # multicast
    )
)

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard, with the addresses to connect to."""

    url: str  # normalised, without user info or fragment
    scheme: str  # "http" or "https"
    host: str  # as written in the URL, lower-case, no brackets (the TLS name)
    port: int
    request_target: str  # path and query, e.g. "/a/b?c=d"
    host_header: str  # what goes in the Host header
    addresses: tuple[str, ...]  # checked IP addresses, in resolver order


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the OS (``socket.getaddrinfo``): every address, duplicates removed."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_addresses(address: str | IPAddress) -> list[IPAddress]:
    """The address itself (scope such as ``%eth0`` dropped) and every IPv4 address
    it carries: IPv4-mapped and -compatible, NAT64 (``64:ff9b::/96``, ``64:ff9b:1::/48``),
    6to4 (``2002::/16``) and Teredo (server and client)."""
    addr = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        addr = ipaddress.IPv6Address(str(addr).split("%", 1)[0])
    found: list[IPAddress] = [addr]
    if isinstance(addr, ipaddress.IPv6Address):
        low32 = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if addr.ipv4_mapped is not None:
            found.append(addr.ipv4_mapped)
        compatible = addr in _IPV4_COMPATIBLE and int(addr) > 1  # not :: and ::1
        if compatible or addr in _NAT64 or addr in _NAT64_LOCAL:
            found.append(low32)
        if addr.sixtofour is not None:
            found.append(addr.sixtofour)
        if addr.teredo is not None:
            found.extend(addr.teredo)
    return found


def is_metadata_address(address: str | IPAddress) -> bool:
    """A cloud metadata address, written plainly or embedded in an IPv6 form."""
    return any(
        a in METADATA_ADDRESSES or any(a in net for net in METADATA_NETWORKS if net.version == 4)
        for a in embedded_addresses(address)
    )


def address_problem(address: str | IPAddress) -> str | None:
    """Why this address must not be fetched ("loopback", ...), or None when it is public.

    An IPv6 address that embeds an IPv4 one is refused when either is; everything is
    compared as parsed addresses and networks, never as strings.
    """
    addr, *inner = embedded_addresses(address)
    if addr in METADATA_ADDRESSES or any(a in METADATA_ADDRESSES for a in inner):
        return METADATA_PROBLEM
    for embedded in inner:
        problem = _own_problem(embedded)
        if problem:
            return f"{problem} (embedded in {addr})"
    if inner and not (addr.sixtofour or addr.teredo):  # type: ignore[union-attr]
        return None  # a translation (IPv4-mapped, NAT64...): judged by its IPv4 part
    return _own_problem(addr)


#: What :func:`address_problem` says of a metadata address.
METADATA_PROBLEM = "a cloud metadata address"


def _own_problem(addr: IPAddress) -> str | None:
    if isinstance(addr, ipaddress.IPv6Address) and addr in _NAT64_LOCAL:
        return "a local NAT64 address"
    if addr.is_unspecified:
        return "the unspecified address"
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_multicast:
        return "a multicast address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT:
        return "a carrier-grade NAT address"
    if addr.is_private:
        return "a private address"
    if addr.is_reserved or not addr.is_global:
        return "a reserved address"
    if any(addr in net for net in _EXTRA_BLOCKED if net.version == addr.version):
        return "a reserved address"
    return None


def check_url(
    url: str,
    *,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    trusted_hosts: Collection[str] = (),
) -> Target:
    """Check a URL and resolve its host once; raise ``BlockedURL`` when it must not be fetched.

    ``BlockedURL`` messages are written for the model. A name that does not resolve
    raises ``ToolFailure`` (not a refusal: the model may have mistyped it).
    """
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    from ahora.errors import ToolFailure

    shown = _shorten(url)
    try:
        parsed = parse_url(url.strip())
    except LocationParseError as exc:
        raise BlockedURL(f"refusing to read {shown}: it is not a valid URL") from exc
    scheme = (parsed.scheme or "").lower()
    if scheme not in ALLOWED_SCHEMES:
        what = f"{scheme}:" if scheme else "a URL without a scheme"
        raise BlockedURL(
            f"refusing to read {shown}: only http:// and https:// URLs can be read, not {what}"
        )
    host = (parsed.host or "").strip("[]").lower()
    name = host.rstrip(".")
    if not name:
        raise BlockedURL(f"refusing to read {shown}: the URL has no host name")
    if name in METADATA_HOSTNAMES:
        raise BlockedURL(f"refusing to read {shown}: it points to a cloud metadata service")
    port = parsed.port or (443 if scheme == "https" else 80)
    exempt = allow_private or name in {h.lower().rstrip(".") for h in trusted_hosts}
    if not exempt and (name == "localhost" or name.endswith(".localhost")):
        raise BlockedURL(f"refusing to read {shown}: it points to a private or loopback address")

    try:
        addresses = tuple((resolver or system_resolver)(host, port))
    except (OSError, UnicodeError) as exc:
        raise ToolFailure(f"could not resolve the host name {name!r} (check the URL)") from exc
    if not addresses:
        raise ToolFailure(f"could not resolve the host name {name!r} (check the URL)")
    for address in addresses:
        try:
            problem = address_problem(address)
        except ValueError as exc:
            raise BlockedURL(f"refusing to read {shown}: unexpected address {address!r}") from exc
        if is_metadata_address(address):
            raise BlockedURL(f"refusing to read {shown}: it points to a cloud metadata service")
        if problem and not exempt:
            raise BlockedURL(
                f"refusing to read {shown}: it points to a private or loopback address "
                f"({address} is {problem}); only public web pages can be read"
            )

    bracketed = f"[{host}]" if ":" in host else host
    default_port = port == (443 if scheme == "https" else 80)
    host_header = bracketed if default_port else f"{bracketed}:{port}"
    request_target = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query is not None else "")
    return Target(
        url=f"{scheme}://{host_header}{request_target}",
        scheme=scheme,
        host=host,
        port=port,
        request_target=request_target,
        host_header=host_header,
        addresses=addresses,
    )


def _shorten(url: str, limit: int = 200) -> str:
    url = url.strip()
    return url if len(url) <= limit else url[: limit - 3] + "..."
