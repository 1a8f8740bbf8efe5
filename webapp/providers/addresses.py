"""Which network addresses Reelay may send an upstream request to.

Every URL — a provider's base URL and every URL an upstream hands back (result files,
polling URLs, redirects) — is checked before a request goes out. Link-local and cloud
metadata addresses are always refused; loopback and private networks only when the
``REELAY_UPSTREAM_NETWORKS`` setting allows them (development allows loopback, for the
simulator). A name that does not resolve is let through: the connection then fails on
its own, as "could not be reached".
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

PUBLIC, LOOPBACK, PRIVATE = "public", "loopback", "private"
NETWORKS = (PUBLIC, LOOPBACK, PRIVATE)

# Cloud metadata services: reachable from inside a VM, full of credentials.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class AddressRefused(ValueError):
    """``str()`` says why, without the URL's query or credentials."""


def _why_not(ip, allowed: str) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_loopback:
        return None if allowed in (LOOPBACK, PRIVATE) else "a loopback address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "not a routable address"
    if ip.is_private or ip in _CGNAT:
        return None if allowed == PRIVATE else "a private-network address"
    return None


def check(url: str, allowed: str = PUBLIC) -> None:
    """Raise AddressRefused when ``url`` points where upstream requests may not go."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused("only http(s) URLs with a host are allowed")
    host = parts.hostname
    try:
        ips = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise AddressRefused("the port is not a number") from None
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            return  # unresolvable: the request fails to connect by itself
        ips = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for ip in ips:
        reason = _why_not(ip, allowed)
        if reason:
            raise AddressRefused(f"{host} is {reason}")
