"""Who is asking: the client's address, read from `X-Forwarded-For` only when the peer that connected
is a proxy the operator trusts (`GATEWAY_TRUSTED_PROXIES`). Anyone can write that header, so from an
untrusted peer it is ignored; behind a chain of trusted proxies the client is the right-most address
that is not itself a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()
        )

    def __contains__(self, address: str) -> bool:
        parsed = parse_address(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The client's address: the peer itself, unless the peer is trusted and forwarded for
        someone; a malformed forwarded entry ends the walk at the last good address."""
        if peer is None or not self.networks or peer not in self or not forwarded_for:
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")[:64]):
            address = parse_address(hop.strip())
            if address is None:
                break
            client = str(address)
            if client not in self:
                break
        return client


def parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if len(value) > 64:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
