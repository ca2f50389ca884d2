"""Which subscriber URLs Switchboard will send to: http(s) only, and never to loopback,
private or link-local addresses unless SWITCHBOARD_ALLOW_PRIVATE_URLS is set."""

from __future__ import annotations

import ipaddress
import socket
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
