"""Client addresses behind proxies: `X-Forwarded-For` counts only when a trusted proxy sent it."""

from __future__ import annotations

import pytest

from services.addresses import TrustedProxies

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert TrustedProxies().client("203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client("203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_the_client_is_the_right_most_untrusted_hop() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "127.0.0.1"])
    # A client may prepend anything; only what the trusted proxies appended counts.
    assert proxies.client("127.0.0.1", "1.1.1.1, 198.51.100.7, 10.2.3.4") == "198.51.100.7"


def test_a_malformed_hop_stops_the_walk() -> None:
    proxies = TrustedProxies(["127.0.0.1"])
    assert proxies.client("127.0.0.1", "198.51.100.7, not-an-address") == "127.0.0.1"
    assert proxies.client("127.0.0.1", "x" * 10_000) == "127.0.0.1"


def test_ipv4_mapped_addresses_compare_as_ipv4() -> None:
    proxies = TrustedProxies(["127.0.0.1"])
    assert proxies.client("::ffff:127.0.0.1", "198.51.100.7") == "198.51.100.7"


def test_a_bad_setting_is_refused_at_start() -> None:
    from pydantic import ValidationError

    from gateway.settings import Settings

    with pytest.raises(ValidationError, match="GATEWAY_TRUSTED_PROXIES"):
        Settings(GATEWAY_TRUSTED_PROXIES="10.0.0.0/8, nonsense")
    assert Settings(GATEWAY_TRUSTED_PROXIES="10.0.0.0/8, ::1").trusted_proxies == ["10.0.0.0/8", "::1"]
