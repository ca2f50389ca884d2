"""Which subscriber URLs Switchboard will send to: http(s) only, and never to loopback,
private or link-local addresses unless SWITCHBOARD_ALLOW_PRIVATE_URLS is set."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit


class UrlRefused(ValueError):
    pass


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool, resolve: bool = True) -> str:
    """Return the URL if it may be used, else raise UrlRefused saying why."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise UrlRefused("url must start with http:// or https://")
    if not parts.hostname:
        raise UrlRefused("url has no host")
    if parts.username or parts.password:
        raise UrlRefused("url must not carry credentials")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise UrlRefused("url has an invalid port") from None
    if allow_private:
        return url
    for address in _addresses(parts.hostname, resolve):
        if not _is_public(address):
            raise UrlRefused(f"url resolves to a private or loopback address ({address}); "
                             "set SWITCHBOARD_ALLOW_PRIVATE_URLS=true to allow it")
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
        for address in addresses:
            if not _is_public(address):
                raise UrlRefused(f"url resolves to a private or loopback address ({address})")
    return Target(scheme, host, port, addresses[0], path)
