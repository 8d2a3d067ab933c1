"""Who is on the other end of a request: the client's address and whether it came over
HTTPS, honouring X-Forwarded-For / X-Forwarded-Proto only when the direct peer is one of the
configured trusted proxies (`MICROFACTORY_TRUSTED_PROXIES`). A client talking to the server
directly cannot make itself look like another address or like HTTPS by sending headers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Literal

from starlette.requests import HTTPConnection

from microfactory.core.errors import ValidationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
CookieSecure = Literal["auto", "always", "never"]


def parse_networks(text: str | Iterable[str]) -> tuple[Network, ...]:
    """'10.0.0.1, 192.168.0.0/24, ::1' → networks (a bare address is a /32 or /128)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[Network] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValidationError(
                f"{item!r} is not an IP address or network", where="trusted_proxies"
            ) from None
    return tuple(out)


def _ip(text: str) -> IP | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(ip: IP | None, proxies: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip in net for net in proxies)


def _header_values(conn: HTTPConnection, name: str) -> list[str]:
    return [v.strip() for raw in conn.headers.getlist(name) for v in raw.split(",")]


def client_address(conn: HTTPConnection, proxies: tuple[Network, ...]) -> str:
    """The client's IP address. Behind trusted proxies: the rightmost X-Forwarded-For hop
    that is not itself a trusted proxy (hops further left were written by the client and
    prove nothing)."""
    peer = conn.client.host if conn.client else ""
    if not _trusted(_ip(peer), proxies):
        return peer
    address = peer
    for hop in reversed(_header_values(conn, "x-forwarded-for")):
        ip = _ip(hop)
        if ip is None:
            break
        address = str(ip)
        if not _trusted(ip, proxies):
            break
    return address


def is_https(conn: HTTPConnection, proxies: tuple[Network, ...]) -> bool:
    """Served over TLS: directly, or by a trusted proxy that says so (X-Forwarded-Proto)."""
    if conn.url.scheme in ("https", "wss"):
        return True
    peer = conn.client.host if conn.client else ""
    if not _trusted(_ip(peer), proxies):
        return False
    protos = _header_values(conn, "x-forwarded-proto")
    return bool(protos) and protos[-1].lower() == "https"


def secure_cookies(
    conn: HTTPConnection, setting: CookieSecure, proxies: tuple[Network, ...]
) -> bool:
    """Whether cookies set on this response get the Secure flag: always, never, or (auto,
    the default) when the request came over HTTPS."""
    if setting == "always":
        return True
    if setting == "never":
        return False
    return is_https(conn, proxies)
