"""The outbound guard's table of addresses (pure: no database, Redis or network). Every row states what
a destination is and whether the gateway may connect there under each setting."""

from __future__ import annotations

import pytest

from services.egress import EgressPolicy, EgressRefused

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis

STRICT = EgressPolicy(allow_loopback=False, allow_private=False)
LOOPBACK = EgressPolicy(allow_loopback=True, allow_private=False)
PRIVATE = EgressPolicy(allow_loopback=False, allow_private=True)
EVERYTHING = EgressPolicy(allow_loopback=True, allow_private=True)

# Refused whatever the settings allow.
ALWAYS_REFUSED = [
    # cloud metadata, plain and wrapped
    "169.254.169.254",
    "169.254.170.2",
    "fd00:ec2::254",
    "100.100.100.200",
    "168.63.129.16",
    "192.0.0.192",
    "::ffff:169.254.169.254",
    "::ffff:100.100.100.200",
    "2002:a9fe:a9fe::",
    "64:ff9b::a9fe:a9fe",
    # loopback and private addresses wrapped in 6to4, Teredo or NAT64 forms
    "2002:7f00:1::",
    "2002:7f00:1::1",
    "2002:a00:1::",
    "2002:c0a8:1::",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:0:7f00:1::1",  # Teredo, relay server 127.0.0.1
    "64:ff9b::7f00:1",
    "64:ff9b::a00:1",
    "64:ff9b::c0a8:101",
    # local-use NAT64 and IPv4-compatible forms
    "64:ff9b:1::7f00:1",
    "64:ff9b:1::808:808",
    "::7f00:1",
    "::808:808",
    "::a00:1",
    # link-local, site-local, multicast, reserved, unspecified, documentation, benchmarking, protocol blocks
    "169.254.0.1",
    "fe80::1",
    "fec0::1",
    "fec0:1::1",
    "224.0.0.251",
    "239.1.2.3",
    "ff02::1",
    "ff0e::1",
    "240.0.0.1",
    "255.255.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "::",
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "2001:db8::1",
    "198.18.0.1",
    "192.0.0.9",
    "100::1",
    "4000::1",
    # not an address at all
    "not-an-address",
    "127.0.0.1.1",
]
# Shared address space and the private ranges: only with GATEWAY_ALLOW_PRIVATE_AGENTS.
PRIVATE_ONLY = [
    "10.1.2.3",
    "172.31.255.1",
    "192.168.0.1",
    "100.64.0.1",
    "100.127.255.254",
    "fd12:3456::1",
    "fc00::1",
    "::ffff:10.0.0.1",
]
# Loopback given plainly: only with GATEWAY_ALLOW_LOOPBACK_AGENTS.
LOOPBACK_ONLY = ["127.0.0.1", "127.3.2.1", "127.255.255.254", "::1", "::ffff:127.0.0.1"]
# Public addresses, plain and in transition forms that wrap a public IPv4 address.
PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80e::200e",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
]


def refused(policy: EgressPolicy, address: str) -> bool:
    try:
        policy.check(address)
    except EgressRefused:
        return True
    return False


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_refused_under_every_setting(address: str) -> None:
    assert [refused(policy, address) for policy in (STRICT, LOOPBACK, PRIVATE, EVERYTHING)] == [True] * 4


@pytest.mark.parametrize("address", PRIVATE_ONLY)
def test_private_ranges_pass_only_when_private_agents_are_allowed(address: str) -> None:
    assert refused(STRICT, address) and refused(LOOPBACK, address)
    assert not refused(PRIVATE, address) and not refused(EVERYTHING, address)


@pytest.mark.parametrize("address", LOOPBACK_ONLY)
def test_loopback_passes_only_when_loopback_agents_are_allowed(address: str) -> None:
    assert refused(STRICT, address) and refused(PRIVATE, address)
    assert not refused(LOOPBACK, address) and not refused(EVERYTHING, address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert not refused(STRICT, address)


def test_the_refusal_says_what_the_address_is() -> None:
    with pytest.raises(EgressRefused, match="metadata"):
        EVERYTHING.check("::ffff:100.100.100.200")
    with pytest.raises(EgressRefused, match="IPv6 form of a loopback"):
        EVERYTHING.check("2002:7f00:1::")
