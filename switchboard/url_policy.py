"""Which subscriber URLs Switchboard will send to: http(s) only, and never to loopback,
private or link-local addresses unless SWITCHBOARD_ALLOW_PRIVATE_URLS is set."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit


class UrlRefused(ValueError):
    pass


def _ipv6_pattern() -> str:
    """RFC 3986's IPv6address, as a regular expression (no zone id)."""
    h16 = "[0-9A-Fa-f]{1,4}"
    octet = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    ls32 = f"({h16}:{h16}|{octet}(\\.{octet}){{3}})"
    forms = [f"({h16}:){{6}}{ls32}", f"::({h16}:){{5}}{ls32}"]
    for before, after in ((0, f"({h16}:){{4}}{ls32}"), (1, f"({h16}:){{3}}{ls32}"),
                          (2, f"({h16}:){{2}}{ls32}"), (3, f"{h16}:{ls32}"), (4, ls32),
                          (5, h16), (6, "")):
        head = f"{h16}" if before == 0 else f"(({h16}:){{0,{before}}}{h16})"
        forms.append(f"({head})?::{after}")
    return "(" + "|".join(forms) + ")"


# What a subscriber URL must look like, the same for the server and /openapi.json: http(s),
# a host name or IP literal (no user or password), an optional port up to 65535, then a
# path, query and fragment as RFC 3986 has them. Checked before urlsplit, which raises on
# some malformed hosts.
_PCHAR = "([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
URL_PATTERN = (
    "^https?://"
    "([A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*\\.?|\\[" + _ipv6_pattern() + "\\])"
    "(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
    f"(/{_PCHAR}*)*(\\?({_PCHAR}|[/?])*)?(#({_PCHAR}|[/?])*)?$"
)


# IPv6 ranges whose low 32 bits are an IPv4 address that the packet ends up at (or, for
# IPv4-compatible ::a.b.c.d, that a dual-stack host may treat as one). Python's
# ipaddress calls them global, so a URL could name 127.0.0.1 or 169.254.169.254 in them.
_LOW_32_CARRIERS = (
    ipaddress.IPv6Network("::/96"),            # IPv4-compatible (RFC 4291, deprecated)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
    ipaddress.IPv6Network("64:ff9b::/96"),     # NAT64 well-known prefix (RFC 6052)
)
# Local-use NAT64 (RFC 8215): the operator picks a prefix of 32 to 96 bits inside it, and
# the IPv4 address sits at a different place for each (RFC 6052 2.2), so the address
# alone does not say which IPv4 it reaches. It is a site's own translator, whose far side
# is whatever that site routes to: refused whole rather than guessed at.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _carried_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses a packet to `ip` is delivered through or to, if it carries any."""
    if ip.ipv4_mapped:
        return (ip.ipv4_mapped,)
    if ip.teredo:  # (server, client): the relay reaches the client via the server's NAT
        return ip.teredo
    if ip.sixtofour:
        return (ip.sixtofour,)
    if any(ip in network for network in _LOW_32_CARRIERS):
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    return ()


def is_public(address: str) -> bool:
    """Whether an address may be sent to: the one judgement for creation and sending."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        carried = _carried_ipv4(ip)
        if carried:
            return all(_is_public_ip(v4) for v4 in carried)
    return _is_public_ip(ip)


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def refuse_private(addresses: list[str]) -> None:
    for address in addresses:
        if not is_public(address):
            raise UrlRefused(f"url resolves to a private or loopback address ({address}); "
                             "set SWITCHBOARD_ALLOW_PRIVATE_URLS=true to allow it")


def check_url(url: str, allow_private: bool, resolve: bool = True) -> str:
    """Return the URL if it may be used, else raise UrlRefused saying why."""
    if not url.startswith(("http://", "https://")):
        raise UrlRefused("url must start with http:// or https://")
    shape = UrlRefused("url must be http(s)://host[:port][/path], without user or password "
                       "or characters a URL may not hold")
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed bracketed host, for one
        raise shape from None
    # The common mistakes by name first; then the shape /openapi.json documents, for the rest.
    if not parts.hostname:
        raise UrlRefused("url has no host")
    if parts.username or parts.password:
        raise UrlRefused("url must not carry credentials")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise UrlRefused("url has an invalid port") from None
    if not re.fullmatch(URL_PATTERN, url):
        raise shape
    if allow_private:
        return url
    refuse_private(_addresses(parts.hostname, resolve))
    return url


def _addresses(host: str, resolve: bool) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return ["127.0.0.1"]
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise UrlRefused(f"url host {host!r} does not resolve") from None
    return sorted({info[4][0] for info in infos})


@dataclass(frozen=True)
class Target:
    """Where a delivery really goes: the address checked, not a name to resolve again."""

    scheme: str
    host: str
    port: int
    address: str
    path: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


_RESOLVED: dict[str, tuple[float, list[str]]] = {}
RESOLVE_TTL = 30.0


@lru_cache(maxsize=1024)
def _split(url: str) -> tuple[str, str, int, str]:
    """scheme, host, port and path of a URL check_url accepts (cached: the worker pins a
    subscription's URL on every attempt, and parsing it was ~5% of a delivery's CPU)."""
    check_url(url, allow_private=True)  # scheme, host, port, credentials
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path


def pin(url: str, allow_private: bool) -> Target:
    """Resolve once, check every address, and hand back the one to connect to.

    Connecting to the checked address (with the name kept for Host and TLS) closes the
    DNS-rebinding gap between a check and a second lookup by the HTTP client.
    """
    scheme, host, port, path = _split(url)
    cached = _RESOLVED.get(host)
    if cached and cached[0] > time.monotonic():
        addresses = cached[1]
    else:
        addresses = _addresses(host, resolve=True)
        _RESOLVED[host] = (time.monotonic() + RESOLVE_TTL, addresses)
    if not allow_private:
        refuse_private(addresses)
    return Target(scheme, host, port, addresses[0], path)
