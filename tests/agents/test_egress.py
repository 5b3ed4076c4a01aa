"""The egress guard itself: which addresses it refuses, that it refuses on the connection (after
resolving the name at connect time), and how the settings configure it."""

from __future__ import annotations

import pytest

from gateway.settings import Settings
from services.egress import EgressPolicy, EgressRefused, guarded_client
from services.resources import egress_policy
from tests.agents.mcp_peer import mcp_peer


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.0.1",
        "fe80::1",
        "::ffff:169.254.169.254",
        "10.1.2.3",
        "172.31.255.1",
        "192.168.0.1",
        "fd12:3456::1",
        "0.0.0.0",
        "::",
        "224.0.0.251",
        "240.0.0.1",
        "127.0.0.1",
        "127.3.2.1",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_refused_addresses(address: str) -> None:
    with pytest.raises(EgressRefused):
        EgressPolicy(allow_loopback=False).check(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    EgressPolicy(allow_loopback=False).check(address)


def test_loopback_and_private_only_when_allowed() -> None:
    EgressPolicy(allow_loopback=True).check("127.0.0.1")
    EgressPolicy(allow_loopback=True).check("::1")
    with pytest.raises(EgressRefused):
        EgressPolicy(allow_loopback=True).check("169.254.169.254")  # metadata is never allowed
    with pytest.raises(EgressRefused):
        EgressPolicy(allow_loopback=True).check("10.0.0.1")
    EgressPolicy(allow_private=True).check("10.0.0.1")
    with pytest.raises(EgressRefused):
        EgressPolicy(allow_private=True).check("169.254.169.254")


def test_settings_decide_the_policy(tmp_path) -> None:
    base = {"GATEWAY_DATA_DIR": str(tmp_path)}
    assert egress_policy(Settings(**base)).allow_loopback is True  # development default
    assert egress_policy(Settings(**base, GATEWAY_ENV="production")).allow_loopback is False
    assert egress_policy(Settings(**base, GATEWAY_ALLOW_LOOPBACK_AGENTS="false")).allow_loopback is False
    assert (
        egress_policy(Settings(**base, GATEWAY_ENV="production", GATEWAY_ALLOW_LOOPBACK_AGENTS="true")).allow_loopback
        is True
    )
    assert egress_policy(Settings(**base)).allow_private is False
    assert egress_policy(Settings(**base, GATEWAY_ALLOW_PRIVATE_AGENTS="true")).allow_private is True


def refused(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, EgressRefused):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def test_the_guard_refuses_the_connection_itself() -> None:
    async with mcp_peer() as peer:
        port = peer.health_url.split(":")[2].split("/")[0]
        for url in (peer.health_url, f"http://localhost:{port}/health"):
            async with guarded_client(EgressPolicy(allow_loopback=False), timeout=5) as http:
                with pytest.raises(Exception) as caught:
                    await http.get(url)
            assert refused(caught.value), repr(caught.value)
        assert peer.state.requests == 0  # refused before any byte was sent

        async with guarded_client(EgressPolicy(allow_loopback=True), timeout=5) as http:
            response = await http.get(f"http://localhost:{port}/health")
        assert response.status_code == 200 and peer.state.requests == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:7f00:1::]/mcp",
        "http://[64:ff9b::7f00:1]:8080/mcp",
        "http://100.100.100.200/latest/meta-data",
        "http://[fec0::1]/",
        "http://100.64.0.1/",
    ],
)
async def test_urls_of_wrapped_loopback_metadata_and_non_global_addresses_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused):
        await EgressPolicy(allow_loopback=True).check_url(url)
    async with guarded_client(EgressPolicy(allow_loopback=True), timeout=2) as http:
        with pytest.raises(Exception) as caught:
            await http.get(url)
    assert refused(caught.value), repr(caught.value)
