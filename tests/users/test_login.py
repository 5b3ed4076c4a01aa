"""login: the right password signs in; a wrong password, an unknown email and a deleted account all fail
the same way; emails match case-insensitively; passwords are kept as argon2id hashes."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import asyncpg
import pytest
from argon2 import PasswordHasher

from services.resources import Resources
from tests.graphql_client import PASSWORD, GraphQLClient, SignedUp

LOGIN = """
mutation($input: LoginInput!) {
  login(input: $input) {
    user { id email lastLoginAt }
    accessToken
    refreshToken
    errors { field code message }
  }
}"""


async def login(client: GraphQLClient, email: str, password: str) -> dict[str, Any]:
    return (await client.data(LOGIN, {"input": {"email": email, "password": password}}))["login"]


def assert_refused(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["user"] is None
    assert payload["accessToken"] is None
    assert payload["refreshToken"] is None
    assert len(payload["errors"]) == 1
    error = payload["errors"][0]
    assert error["code"] == "INVALID_CREDENTIALS"
    return error


async def test_right_password_signs_in(
    client: GraphQLClient, pg: asyncpg.Connection, resources: Resources, user: SignedUp
) -> None:
    assert await pg.fetchval("SELECT last_login_at FROM users WHERE id = $1", user.pk) is None

    payload = await login(client, user.email, PASSWORD)
    assert payload["errors"] == []
    assert payload["user"]["id"] == user.id
    assert payload["user"]["lastLoginAt"] is not None
    assert payload["accessToken"] and payload["refreshToken"]
    assert payload["refreshToken"] != user.refresh_token  # a new session

    last_login = await pg.fetchval("SELECT last_login_at FROM users WHERE id = $1", user.pk)
    assert last_login is not None
    assert payload["user"]["lastLoginAt"].startswith(last_login.strftime("%Y-%m-%dT%H:%M"))

    viewer = (await client.data("{ viewer { id lastLoginAt } }", token=payload["accessToken"]))["viewer"]
    assert viewer["id"] == user.id
    assert viewer["lastLoginAt"] is not None

    digest = hashlib.sha256(payload["refreshToken"].encode()).hexdigest()
    assert await resources.redis.hget(f"signin:refresh:{digest}", "user_id") == str(user.pk)
    assert not await resources.redis.exists(f"signin:refresh:{payload['refreshToken']}")


async def test_every_login_moves_last_login_forward(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    await login(client, user.email, PASSWORD)
    first = await pg.fetchval("SELECT last_login_at FROM users WHERE id = $1", user.pk)
    await login(client, user.email, PASSWORD)
    second = await pg.fetchval("SELECT last_login_at FROM users WHERE id = $1", user.pk)
    assert second > first


async def test_wrong_password_and_unknown_email_fail_the_same_way(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    wrong_password = assert_refused(await login(client, user.email, "Wrong-Horse-9"))
    unknown_email = assert_refused(await login(client, f"nobody-{uuid.uuid4().hex[:10]}@example.com", PASSWORD))
    assert wrong_password == unknown_email  # same field, code and message: existence never leaks
    assert user.email not in wrong_password["message"]
    # A failed attempt is not a sign-in.
    assert await pg.fetchval("SELECT last_login_at FROM users WHERE id = $1", user.pk) is None


@pytest.mark.parametrize(
    "password", [PASSWORD.lower(), PASSWORD.upper(), PASSWORD + " ", " " + PASSWORD, PASSWORD[:-1], "", "x" * 256]
)  # 256: the longest a password can be
async def test_near_miss_passwords_are_refused(client: GraphQLClient, user: SignedUp, password: str) -> None:
    assert_refused(await login(client, user.email, password))


@pytest.mark.parametrize("email", ["", "   ", "not-an-email", "' OR 1=1 --"])
async def test_malformed_email_is_refused_like_an_unknown_one(client: GraphQLClient, email: str) -> None:
    refused = assert_refused(await login(client, email, PASSWORD))
    unknown = assert_refused(await login(client, f"nobody-{uuid.uuid4().hex[:10]}@example.com", PASSWORD))
    assert refused == unknown


async def test_email_matches_case_insensitively(client: GraphQLClient) -> None:
    local = f"Login.Case-{uuid.uuid4().hex[:8]}"
    signed = await client.register(email=f"{local}@Example.com")
    assert signed.email == f"{local.lower()}@example.com"
    for variant in (signed.email, signed.email.upper(), f"{local}@EXAMPLE.com", f"  {signed.email}  "):
        payload = await login(client, variant, PASSWORD)
        assert payload["errors"] == [], variant
        assert payload["user"]["id"] == signed.id


async def test_soft_deleted_user_cannot_log_in(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    await pg.execute("UPDATE users SET deleted_at = now() WHERE id = $1", user.pk)
    refused = assert_refused(await login(client, user.email, PASSWORD))
    unknown = assert_refused(await login(client, f"nobody-{uuid.uuid4().hex[:10]}@example.com", PASSWORD))
    assert refused == unknown
    assert await pg.fetchval("SELECT last_login_at FROM users WHERE id = $1", user.pk) is None


async def test_password_is_stored_as_argon2id_never_in_clear(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    await login(client, user.email, PASSWORD)
    stored = await pg.fetchval("SELECT password_hash FROM users WHERE id = $1", user.pk)
    assert stored.startswith("$argon2id$")
    assert stored != PASSWORD
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    # Salted: two accounts with one password have different hashes.
    other = await client.register()
    assert await pg.fetchval("SELECT password_hash FROM users WHERE id = $1", other.pk) != stored
