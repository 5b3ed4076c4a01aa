"""Tokens and sign-ins: 15-minute Ed25519 access tokens with a `kid` and key rotation; opaque refresh
tokens kept hashed in Redis for 24 h (sliding), rotated on every use, and a reused one ends the whole
session; logout and logoutEverywhere; with Redis down, signing in answers UNAVAILABLE while requests
with a valid access token keep working."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from joserfc.jwk import KeySet

from graph.app import create_app
from services.resources import Resources
from services.tokens import InvalidToken, TokenKeys, generate_key_set, load_key_set
from tests.graphql_client import PASSWORD, GraphQLClient, SignedUp
from tests.users.flows import (
    CHANGE_PASSWORD,
    DELETE_ACCOUNT,
    LOGOUT,
    LOGOUT_EVERYWHERE,
    UPDATE_PROFILE,
    VIEWER,
    codes,
    login,
    logout,
    refresh,
    refused,
    sign_in_id,
    signed_in,
    token_claims,
    token_header,
    unauthenticated,
)

DAY = 24 * 60 * 60


def refresh_key(token: str) -> str:
    return f"signin:refresh:{hashlib.sha256(token.encode()).hexdigest()}"


async def viewer_id(client: GraphQLClient, token: str) -> str | None:
    viewer = (await client.data("{ viewer { id } }", token=token))["viewer"]
    return viewer["id"] if viewer else None


# --- access tokens --------------------------------------------------------------------------------


async def test_access_token_lasts_15_minutes_and_names_its_key(
    client: GraphQLClient, resources: Resources, user: SignedUp
) -> None:
    header, claims = token_header(user.token), token_claims(user.token)
    assert header["alg"] == "Ed25519"
    assert header["kid"] == resources.keys.signing_kid
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["sub"] == str(user.pk)
    assert claims["sid"]  # tied to the sign-in, so revocation can find its sockets


@pytest.fixture
async def rotated(resources: Resources) -> AsyncIterator[tuple[TokenKeys, GraphQLClient]]:
    """The app after a key rotation: a new key signs, the previous keys still verify."""
    new_key = generate_key_set().keys[0]
    old_keys = load_key_set(resources.settings.jwt_private_keys)  # what the server signed with so far
    keys = TokenKeys(
        KeySet([new_key, *old_keys.keys]), issuer=resources.keys.issuer, ttl_seconds=resources.keys.ttl_seconds
    )
    async with GraphQLClient.over_asgi(create_app(dataclasses.replace(resources, keys=keys))) as rotated_client:
        yield keys, rotated_client


async def test_a_token_signed_by_an_older_key_still_verifies_after_rotation(
    rotated: tuple[TokenKeys, GraphQLClient], resources: Resources, user: SignedUp
) -> None:
    keys, after_rotation = rotated
    old_kid = token_header(user.token)["kid"]
    assert keys.signing_kid != old_kid

    assert await viewer_id(after_rotation, user.token) == user.id  # minted before the rotation
    fresh = signed_in(await login(after_rotation, user.email, PASSWORD))
    assert token_header(fresh["accessToken"])["kid"] == keys.signing_kid  # the new key signs
    assert await viewer_id(after_rotation, fresh["accessToken"]) == user.id

    published = (await after_rotation.http.get("/.well-known/jwks.json")).json()["keys"]
    assert {key["kid"] for key in published} == {keys.signing_kid, old_kid}
    assert all("d" not in key for key in published)


async def test_a_token_of_a_retired_key_is_refused(
    rotated: tuple[TokenKeys, GraphQLClient], client: GraphQLClient, user: SignedUp
) -> None:
    _, after_rotation = rotated
    new_token = signed_in(await login(after_rotation, user.email, PASSWORD))["accessToken"]
    # The servers that never learned the new key (or dropped it) refuse what it signed.
    body = await client.execute("{ viewer { id } }", token=new_token)
    assert unauthenticated(body) and body.get("data") is None


async def test_an_expired_access_token_is_refused(client: GraphQLClient, resources: Resources, user: SignedUp) -> None:
    stale = resources.keys.issue(user.pk, sign_in_id=sign_in_id(user.token), now=int(time.time()) - 15 * 60 - 5)
    body = await client.execute("{ viewer { id } }", token=stale)
    assert unauthenticated(body)
    assert await viewer_id(client, user.token) == user.id


# --- refresh rotation -------------------------------------------------------------------------------


async def test_refresh_hands_out_new_tokens_and_retires_the_old_refresh_token(
    client: GraphQLClient, user: SignedUp
) -> None:
    first = signed_in(await refresh(client, user.refresh_token))
    assert first["user"]["id"] == user.id
    assert first["refreshToken"] != user.refresh_token
    assert first["accessToken"] != user.token
    assert sign_in_id(first["accessToken"]) == sign_in_id(user.token)  # the same session, carried on
    assert await viewer_id(client, first["accessToken"]) == user.id

    second = signed_in(await refresh(client, first["refreshToken"]))
    assert second["refreshToken"] not in {first["refreshToken"], user.refresh_token}


async def test_an_unknown_refresh_token_is_refused(client: GraphQLClient) -> None:
    error = refused(await refresh(client, "not-a-refresh-token"), "UNAUTHENTICATED")
    assert error["field"] == "input.refreshToken"


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(client: GraphQLClient, user: SignedUp) -> None:
    other_session = signed_in(await login(client, user.email, PASSWORD))
    r1 = signed_in(await refresh(client, user.refresh_token))["refreshToken"]
    r2 = signed_in(await refresh(client, r1))["refreshToken"]

    # Someone replays the first token (stolen): refused, and the thief's family ends...
    refused(await refresh(client, user.refresh_token), "UNAUTHENTICATED")
    # ...so even the newest token of that session, held by the legitimate client, stops working.
    refused(await refresh(client, r2), "UNAUTHENTICATED")
    refused(await refresh(client, r1), "UNAUTHENTICATED")
    # The user's other sign-in is a different session and lives on.
    signed_in(await refresh(client, other_session["refreshToken"]))


async def test_two_refreshes_racing_with_one_token_yield_one_winner(client: GraphQLClient, user: SignedUp) -> None:
    answers = await asyncio.gather(*(refresh(client, user.refresh_token) for _ in range(5)))
    winners = [answer for answer in answers if answer["errors"] == []]
    assert len(winners) == 1  # one token, one rotation: never two live successors
    # The losers presented a token already rotated: that is a replay, so the session ends for all.
    refused(await refresh(client, winners[0]["refreshToken"]), "UNAUTHENTICATED")


# --- the session in Redis ----------------------------------------------------------------------------


async def test_session_lives_24_hours_in_redis(resources: Resources, user: SignedUp) -> None:
    redis = resources.redis
    sid = sign_in_id(user.token)
    for key in (refresh_key(user.refresh_token), f"signin:sid:{sid}"):
        assert DAY - 10 <= await redis.ttl(key) <= DAY, key


async def test_refresh_slides_the_24_hour_window(client: GraphQLClient, resources: Resources, user: SignedUp) -> None:
    redis = resources.redis
    sid = sign_in_id(user.token)
    # The session was last used almost a day ago.
    for key in (refresh_key(user.refresh_token), f"signin:sid:{sid}", f"signin:user:{user.pk}"):
        await redis.expire(key, 60)

    renewed = signed_in(await refresh(client, user.refresh_token))
    for key in (refresh_key(renewed["refreshToken"]), f"signin:sid:{sid}", f"signin:user:{user.pk}"):
        assert DAY - 10 <= await redis.ttl(key) <= DAY, key


async def test_an_expired_session_cannot_be_refreshed(
    client: GraphQLClient, resources: Resources, user: SignedUp
) -> None:
    await resources.redis.delete(f"signin:sid:{sign_in_id(user.token)}")  # what the 24 h TTL does
    refused(await refresh(client, user.refresh_token), "UNAUTHENTICATED")


# --- logout -----------------------------------------------------------------------------------------


async def test_logout_ends_that_session_only(client: GraphQLClient, user: SignedUp) -> None:
    other = signed_in(await login(client, user.email, PASSWORD))
    assert (await logout(client, user.refresh_token))["errors"] == []

    refused(await refresh(client, user.refresh_token), "UNAUTHENTICATED")
    signed_in(await refresh(client, other["refreshToken"]))
    # The ended session's access token is refused at once; the other session's still works.
    assert unauthenticated(await client.execute("{ viewer { id } }", token=user.token))
    assert await viewer_id(client, other["accessToken"]) == user.id


async def test_logout_twice_or_with_an_unknown_token_answers_the_same(client: GraphQLClient, user: SignedUp) -> None:
    assert (await logout(client, user.refresh_token))["errors"] == []
    assert (await logout(client, user.refresh_token))["errors"] == []
    assert (await logout(client, "never-issued"))["errors"] == []


async def test_logout_everywhere_ends_every_session_of_the_user(client: GraphQLClient, user: SignedUp) -> None:
    second = signed_in(await login(client, user.email, PASSWORD))
    third = signed_in(await login(client, user.email, PASSWORD))
    rotated_third = signed_in(await refresh(client, third["refreshToken"]))
    bystander = await client.register()

    answer = (await client.data(LOGOUT_EVERYWHERE, token=second["accessToken"]))["logoutEverywhere"]
    assert answer == {"revokedSessions": 3, "errors": []}
    for token in (user.refresh_token, second["refreshToken"], rotated_third["refreshToken"]):
        refused(await refresh(client, token), "UNAUTHENTICATED")
    signed_in(await refresh(client, bystander.refresh_token))
    # Signing in again starts afresh.
    signed_in(await refresh(client, signed_in(await login(client, user.email, PASSWORD))["refreshToken"]))


async def test_logout_everywhere_needs_a_signed_in_user(client: GraphQLClient) -> None:
    body = await client.execute(LOGOUT_EVERYWHERE)
    assert unauthenticated(body)


# --- lastLoginAt --------------------------------------------------------------------------------------


async def test_last_login_is_set_by_login_not_by_refresh(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    payload = signed_in(await login(client, user.email, PASSWORD))
    assert payload["user"]["lastLoginAt"] is not None
    stored = await pg.fetchval("SELECT last_login_at FROM users WHERE id = $1", user.pk)
    signed_in(await refresh(client, payload["refreshToken"]))
    assert await pg.fetchval("SELECT last_login_at FROM users WHERE id = $1", user.pk) == stored


# --- Redis down ---------------------------------------------------------------------------------------


async def test_without_redis_login_and_refresh_answer_unavailable(
    without_redis: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    error = refused(await login(without_redis, user.email, PASSWORD), "UNAVAILABLE")
    assert "unavailable" in error["message"].lower()
    refused(await refresh(without_redis, user.refresh_token), "UNAVAILABLE")
    assert await pg.fetchval("SELECT last_login_at FROM users WHERE id = $1", user.pk) is None


async def test_without_redis_registration_answers_unavailable_and_writes_nothing(
    without_redis: GraphQLClient, pg: asyncpg.Connection
) -> None:
    email = f"no-redis-{uuid.uuid4().hex[:10]}@example.com"
    payload = (
        await without_redis.data(
            """mutation($input: RegisterInput!) { register(input: $input) {
             user { id } accessToken refreshToken errors { code } } }""",
            {"input": {"email": email, "password": PASSWORD, "firstName": "A", "lastName": "B"}},
        )
    )["register"]
    assert payload == {"user": None, "accessToken": None, "refreshToken": None, "errors": [{"code": "UNAVAILABLE"}]}
    assert await pg.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0


async def test_without_redis_a_valid_access_token_keeps_working(without_redis: GraphQLClient, user: SignedUp) -> None:
    viewer = (await without_redis.data(VIEWER, token=user.token))["viewer"]
    assert viewer["id"] == user.id
    updated = (await without_redis.data(UPDATE_PROFILE, {"input": {"firstName": "Grace"}}, token=user.token))[
        "updateProfile"
    ]
    assert updated["errors"] == [] and updated["user"]["firstName"] == "Grace"


async def test_without_redis_signing_out_is_refused_rather_than_half_done(
    without_redis: GraphQLClient, client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    logged_out = (await without_redis.data(LOGOUT, {"input": {"refreshToken": user.refresh_token}}))["logout"]
    assert codes(logged_out) == {None: "UNAVAILABLE"}
    everywhere = (await without_redis.data(LOGOUT_EVERYWHERE, token=user.token))["logoutEverywhere"]
    assert codes(everywhere) == {None: "UNAVAILABLE"}
    # A password change or a deletion that cannot end the other sessions does not happen at all.
    changed = (
        await without_redis.data(
            CHANGE_PASSWORD, {"input": {"currentPassword": PASSWORD, "newPassword": "Other-Pass-77"}}, token=user.token
        )
    )["changePassword"]
    assert codes(changed) == {None: "UNAVAILABLE"}
    deleted = (await without_redis.data(DELETE_ACCOUNT, {"input": {"password": PASSWORD}}, token=user.token))[
        "deleteAccount"
    ]
    assert codes(deleted) == {None: "UNAVAILABLE"}
    assert await pg.fetchval("SELECT deleted_at FROM users WHERE id = $1", user.pk) is None
    # Redis is back: nothing changed, the session is alive.
    signed_in(await login(client, user.email, PASSWORD))
    signed_in(await refresh(client, user.refresh_token))


def test_a_token_verified_once_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verified signatures are kept by token (services/tokens.py); the claims are checked on every use."""
    keys = TokenKeys(generate_key_set(), issuer="gateway-test", ttl_seconds=60)
    token = keys.issue(uuid.uuid4())
    assert keys.verify(token) == keys.verify(token)
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(InvalidToken):
        keys.verify(token)
