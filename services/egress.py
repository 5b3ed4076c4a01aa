"""Outbound connections to agents, guarded against server-side request forgery.

Every TCP connection resolves the host itself, refuses link-local (cloud metadata), private, multicast,
reserved and unspecified addresses (loopback too unless allowed), and connects to the address it
checked. Checking at registration is not enough: a DNS name can point elsewhere later (rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2
from httpcore2._backends.auto import AutoBackend
from httpcore2._backends.base import AsyncNetworkBackend, AsyncNetworkStream


class EgressRefused(Exception):
    """The destination is not one the gateway may connect to."""


@dataclass(frozen=True)
class EgressPolicy:
    allow_loopback: bool = False
    allow_private: bool = False

    def check(self, address: str) -> None:
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            if not self.allow_loopback:
                raise EgressRefused(f"{address} is a loopback address")
            return
        if ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
            raise EgressRefused(f"{address} is not a routable public address")
        if ip.is_private and not self.allow_private:
            raise EgressRefused(f"{address} is a private address")

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
        await self.resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


class GuardedBackend(AsyncNetworkBackend):
    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self.inner = AutoBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        # Connect to an address that was just checked; TLS still verifies the original host name.
        return await self.inner.connect_tcp(addresses[0], port, timeout=timeout, local_address=local_address,
                                            socket_options=socket_options)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> AsyncNetworkStream:
        raise EgressRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=self._pool._ssl_context,  # noqa: SLF001  (keep httpx2's TLS defaults)
            network_backend=GuardedBackend(policy),
        )


def guarded_client(policy: EgressPolicy, *, timeout: float, headers: dict[str, str] | None = None) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=GuardedTransport(policy), timeout=timeout, headers=headers,
                              follow_redirects=False, trust_env=False)
