"""Outbound connections to agents, guarded against server-side request forgery.

Every TCP connection resolves the host itself, checks every address it got, and connects to an address
it checked. Checking at registration is not enough: a DNS name can point elsewhere later (rebinding).

What passes is only a globally routable unicast address, decided here rather than by `ipaddress.is_global`
alone, whose table differs between Python releases (3.11 calls `fec0::1`, `2002::/16`, `ff0e::1` and
`224.0.0.1` global). Invariants:
- cloud metadata addresses are refused always, also when wrapped in another form or when a setting
  allows private or loopback destinations;
- an IPv4 address wrapped in IPv6 (mapped `::ffff:a.b.c.d`, 6to4 `2002::/16`, Teredo `2001::/32`,
  NAT64 `64:ff9b::/96`) is judged by the IPv4 inside; a wrapped loopback or private address is refused
  always (a relay would carry the request there), IPv4-compatible `::a.b.c.d` (deprecated) and the
  local-use NAT64 prefix `64:ff9b:1::/48` are refused outright;
- loopback (127.0.0.0/8, ::1) passes only with `allow_loopback`, the private ranges (RFC 1918, shared
  address space 100.64.0.0/10, unique-local fc00::/7) only with `allow_private`;
- IPv6 must lie in 2000::/3, the only block allocated for global unicast.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2
from httpcore2._backends.auto import AutoBackend
from httpcore2._backends.base import AsyncNetworkBackend, AsyncNetworkStream

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata and platform services: credentials live behind these, and some are public addresses.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.169.253",
        "169.254.169.123",  # AWS DNS and time
        "fd00:ec2::254",
        "fd00:ec2::253",
        "fd00:ec2::123",  # AWS IMDS, DNS and time over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure WireServer (a public address)
        "192.0.0.192",  # Oracle Cloud legacy metadata
    )
)
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
# IPv4 blocks that are not global but that Python 3.11's `is_global` lets through.
NOT_GLOBAL_V4 = tuple(ipaddress.ip_network(network) for network in ("192.0.0.0/24", "224.0.0.0/4"))
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
SIXTOFOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a 6to4, Teredo or NAT64 address carries (empty for other addresses)."""
    if ip in SIXTOFOUR and ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip in TEREDO and ip.teredo is not None:
        return list(ip.teredo)  # the relay server and the client behind it
    if ip in NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def refusal(ip: IPAddress, *, allow_loopback: bool, allow_private: bool, wrapped: bool = False) -> str | None:
    """Why the gateway may not connect to `ip`, or None when it may. `wrapped`: `ip` came out of an IPv6
    transition form, where loopback and private destinations are refused whatever the settings."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return refusal(ip.ipv4_mapped, allow_loopback=allow_loopback, allow_private=allow_private, wrapped=wrapped)
        if ip in NAT64_LOCAL:
            return "a local-use NAT64 address"
        if ip in IPV4_COMPATIBLE and not (ip.is_loopback or ip.is_unspecified):
            return "an IPv4-compatible address (deprecated)"
        inner = _embedded_v4(ip)
        if inner:
            reasons = [refusal(v4, allow_loopback=False, allow_private=False, wrapped=True) for v4 in inner]
            reason = next((r for r in reasons if r is not None), None)
            return f"an IPv6 form of {reason}" if reason else None
    if ip.is_loopback:
        return None if allow_loopback and not wrapped else "a loopback address"
    if any(ip in network for network in PRIVATE_NETWORKS if network.version == ip.version):
        return None if allow_private and not wrapped else "a private address"
    if ip.is_unspecified or ip.is_multicast or ip.is_link_local or ip.is_reserved:
        return "not a routable unicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip not in GLOBAL_UNICAST_V6:
        return "not a global unicast address"
    if isinstance(ip, ipaddress.IPv4Address) and any(ip in network for network in NOT_GLOBAL_V4):
        return "not a globally routable address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


class EgressRefused(Exception):
    """The destination is not one the gateway may connect to."""


@dataclass(frozen=True)
class EgressPolicy:
    allow_loopback: bool = False
    allow_private: bool = False

    def check(self, address: str) -> None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise EgressRefused(f"{address!r} is not an IP address") from None
        reason = refusal(ip, allow_loopback=self.allow_loopback, allow_private=self.allow_private)
        if reason is not None:
            raise EgressRefused(f"{address} is {reason}")

    async def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses, all of which must pass (a name with one bad address is refused)."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise EgressRefused(f"{host} does not resolve") from error
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            self.check(address)
        return addresses

    async def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EgressRefused("only http(s) URLs with a host are allowed")
        if parts.username or parts.password:
            raise EgressRefused("credentials in the URL are not allowed")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise EgressRefused("the port is not valid") from None
        await self.resolve(parts.hostname, port)


class GuardedBackend(AsyncNetworkBackend):
    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self.inner = AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        # Connect to an address that was just checked; TLS still verifies the original host name.
        return await self.inner.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> AsyncNetworkStream:
        raise EgressRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=self._pool._ssl_context,
            network_backend=GuardedBackend(policy),
        )


def guarded_client(
    policy: EgressPolicy,
    *,
    timeout: float,
    auth: httpx2.Auth | None = None,
    wrap: Callable[[httpx2.AsyncBaseTransport], httpx2.AsyncBaseTransport] | None = None,
) -> httpx2.AsyncClient:
    """A client whose connections pass the guard. Credentials go in `auth` (see services/credentials.py),
    never in default headers, which would reach every URL the client is asked for. `wrap` may put a layer
    in front of the guarded transport (one that answers some requests itself); what reaches the network
    still goes through the guard."""
    transport: httpx2.AsyncBaseTransport = GuardedTransport(policy)
    if wrap is not None:
        transport = wrap(transport)
    return httpx2.AsyncClient(transport=transport, timeout=timeout, auth=auth, follow_redirects=False, trust_env=False)
