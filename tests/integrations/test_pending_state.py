"""The pending state of a connection (PKCE verifier, user, redirect, returnTo, scopes) is sealed in Redis: a
reader of Redis finds none of it in clear, the browser path still completes, and a state sealed under an
older key still reads after the keys rotate (while the old key is kept)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from redis.asyncio import Redis

from services.crypto import SecretBox
from services.oauth import states
from tests.graphql_client import GraphQLClient, SignedUp
from tests.integrations.conftest import RETURN_TO, Browser, start

REDIRECT_URI = "http://gateway.test/oauth/callback/gmail"
GMAIL_READ = "https://www.googleapis.com/auth/gmail.readonly"


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def holds_verifier(raw: str, challenge: str) -> bool:
    """Whether any run of verifier characters in `raw` holds a verifier (43 to 128 characters, RFC 7636) whose
    S256 challenge is the one the provider was sent."""
    for run in re.findall(r"[A-Za-z0-9._~-]{43,}", raw):
        for length in range(43, min(128, len(run)) + 1):
            for begin in range(len(run) - length + 1):
                if challenge_of(run[begin : begin + length]) == challenge:
                    return True
    return False


async def test_a_reader_of_redis_finds_nothing_of_the_pending_connection_in_clear(
    gql: GraphQLClient, browser: Browser, member: SignedUp, redis_url: str
) -> None:
    payload = await start(gql, member, scopes=["openid", GMAIL_READ])
    assert payload["errors"] == []
    asked = query_of(payload["authorizationUrl"])
    key = f"oauth:state:{hashlib.sha256(asked['state'].encode()).hexdigest()}"
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        raw: Any = await client.get(key)
    finally:
        await client.aclose()
    assert isinstance(raw, str) and raw.startswith("v1:")
    for clear in (REDIRECT_URI, "gateway.test", RETURN_TO, str(member.pk), GMAIL_READ, "gmail", "code_verifier"):
        assert clear not in raw, clear
    assert not holds_verifier(raw, asked["code_challenge"])
    # The gateway still reads it: the provider gets the verifier matching its challenge and the app its row.
    landed = await browser.follow(payload["authorizationUrl"])
    assert isinstance(landed, str) and landed.startswith(RETURN_TO + "?integration="), landed


def _box(*pairs: tuple[str, bytes]) -> SecretBox:
    return SecretBox(dict(pairs), primary=pairs[0][0])


def _pending() -> states.PendingConnection:
    return states.PendingConnection(
        "00000000-0000-0000-0000-000000000001", "gmail", states.new_code_verifier(), REDIRECT_URI, RETURN_TO, ("a",)
    )


async def test_a_state_sealed_before_a_rotation_still_reads_and_a_dropped_key_reads_as_never_issued(
    redis_url: str,
) -> None:
    old, new = ("old", os.urandom(32)), ("new", os.urandom(32))
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        kept, dropped, moved = states.new_state(), states.new_state(), states.new_state()
        pending = _pending()
        for state in (kept, dropped, moved):
            await states.remember(client, _box(old), state, pending)
        # Rotated: the new key seals, the old one still opens.
        assert await states.take(client, _box(new, old), kept) == pending
        assert await states.take(client, _box(new, old), kept) is None  # single use
        # The old key gone: the state is refused like a forged one, nothing raises.
        assert await states.take(client, _box(new), dropped) is None
        # A sealed value copied under another state's key does not open there.
        other = states.new_state()
        sealed = await client.get(f"oauth:state:{hashlib.sha256(moved.encode()).hexdigest()}")
        await client.set(f"oauth:state:{hashlib.sha256(other.encode()).hexdigest()}", sealed, ex=60)
        assert await states.take(client, _box(old), other) is None
        assert await states.take(client, _box(old), moved) == pending
    finally:
        await client.aclose()
