"""register: every User Data rule of the data model, all violations reported together, nothing written on
a rejection; a successful sign-up returns a signed access token and an opaque, hashed refresh token."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from typing import Any

import asyncpg
import pytest
from argon2 import PasswordHasher

from services.resources import Resources
from tests.graphql_client import PASSWORD, GraphQLClient

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) {
    user { id email firstName lastName businessName businessType phone timezone emailVerified lastLoginAt }
    accessToken
    refreshToken
    errors { field code message }
  }
}"""


def unique_email(prefix: str = "reg") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def registration(**overrides: Any) -> dict[str, Any]:
    return {"email": unique_email(), "password": PASSWORD, "firstName": "Ada", "lastName": "Lovelace", **overrides}


async def register(client: GraphQLClient, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = registration(**overrides)
    return fields, (await client.data(REGISTER, {"input": fields}))["register"]


async def users_with_email(pg: asyncpg.Connection, email: str) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM users WHERE lower(email) = lower(btrim($1))", email))


async def assert_rejected(
    client: GraphQLClient, pg: asyncpg.Connection, expected: set[tuple[str, str]], **overrides: Any
) -> list[dict[str, Any]]:
    """Register with `overrides`; expect exactly these (field, code) errors, no tokens, no row."""
    fields, payload = await register(client, **overrides)
    assert {(error["field"], error["code"]) for error in payload["errors"]} == expected, payload["errors"]
    assert all(error["message"] for error in payload["errors"])
    assert payload["user"] is None
    assert payload["accessToken"] is None
    assert payload["refreshToken"] is None
    assert await users_with_email(pg, fields["email"]) == 0
    return payload["errors"]


def _jose_part(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


# --- success ------------------------------------------------------------------------------------


async def test_register_creates_the_user_and_signs_in(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    fields, payload = await register(
        client,
        businessName="Lovelace Analytics",
        businessType="CONSULTING",
        phone="+61 2 9999 0000",
        timezone="Europe/London",
    )
    assert payload["errors"] == []
    user = payload["user"]
    assert user["email"] == fields["email"]
    assert (user["firstName"], user["lastName"]) == ("Ada", "Lovelace")
    assert user["businessName"] == "Lovelace Analytics"
    assert user["businessType"] == "CONSULTING"
    assert user["phone"] == "+61299990000"
    assert user["timezone"] == "Europe/London"
    assert user["emailVerified"] is False

    row = await pg.fetchrow("SELECT * FROM users WHERE email = $1", fields["email"])
    assert row is not None
    assert row["business_type"] == "consulting"
    assert row["phone"] == "+61299990000"
    assert row["timezone"] == "Europe/London"
    assert row["deleted_at"] is None

    viewer = (await client.data("{ viewer { id email } }", token=payload["accessToken"]))["viewer"]
    assert viewer == {"id": user["id"], "email": fields["email"]}


async def test_access_token_is_an_ed25519_jwt_with_a_published_kid(client: GraphQLClient) -> None:
    _, payload = await register(client)
    header_segment, claims_segment, signature = payload["accessToken"].split(".")
    header = _jose_part(header_segment)
    assert header["alg"] == "Ed25519"
    assert signature

    jwks = await client.http.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    published = {key["kid"]: key for key in jwks.json()["keys"]}
    assert header["kid"] in published
    assert published[header["kid"]]["kty"] == "OKP"
    assert published[header["kid"]]["crv"] == "Ed25519"
    assert "d" not in published[header["kid"]]  # public keys only

    claims = _jose_part(claims_segment)
    assert claims["exp"] > claims["iat"]
    assert "password" not in json.dumps(claims).lower()


async def test_refresh_token_is_opaque_and_stored_only_as_its_sha256(
    client: GraphQLClient, resources: Resources
) -> None:
    _, payload = await register(client)
    refresh_token = payload["refreshToken"]
    user_pk = str(uuid.UUID(base64.b64decode(payload["user"]["id"]).decode().split(":", 1)[1]))
    assert refresh_token and refresh_token != payload["accessToken"]
    assert refresh_token.count(".") < 2  # not a JWT: nothing to decode
    assert user_pk not in refresh_token

    redis = resources.redis
    digest = hashlib.sha256(refresh_token.encode()).hexdigest()
    stored = await redis.hgetall(f"signin:refresh:{digest}")
    assert stored["user_id"] == user_pk
    assert 0 < await redis.ttl(f"signin:refresh:{digest}") <= 24 * 60 * 60
    assert refresh_token not in json.dumps(stored)

    async for key in redis.scan_iter(match="session:*", count=1000):
        assert refresh_token not in key
        kind = await redis.type(key)
        if kind == "hash":
            assert refresh_token not in json.dumps(await redis.hgetall(key))
        elif kind == "set":
            assert refresh_token not in await redis.smembers(key)
        elif kind == "string":
            assert refresh_token not in (await redis.get(key) or "")


async def test_timezone_defaults_to_sydney(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    fields, payload = await register(client)
    assert payload["errors"] == []
    assert payload["user"]["timezone"] == "Australia/Sydney"
    assert await pg.fetchval("SELECT timezone FROM users WHERE email = $1", fields["email"]) == "Australia/Sydney"


async def test_email_is_stored_trimmed_and_lowercase(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    local = f"Mixed.Case-{uuid.uuid4().hex[:8]}"
    _, payload = await register(client, email=f"  {local}@Example.COM ")
    assert payload["errors"] == []
    expected = f"{local.lower()}@example.com"
    assert payload["user"]["email"] == expected
    assert await pg.fetchval("SELECT email FROM users WHERE lower(email) = $1", expected) == expected


async def test_password_is_stored_as_an_argon2id_hash(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    fields, payload = await register(client)
    assert payload["errors"] == []
    stored = await pg.fetchval("SELECT password_hash FROM users WHERE email = $1", fields["email"])
    assert stored.startswith("$argon2id$")
    assert stored != fields["password"]
    assert fields["password"] not in stored
    assert PasswordHasher().verify(stored, fields["password"])


@pytest.mark.parametrize("business_type", ["ACCOUNTING", "REAL_ESTATE", "TRADES", "OTHER"])
async def test_business_type_from_the_predefined_list(
    client: GraphQLClient, pg: asyncpg.Connection, business_type: str
) -> None:
    fields, payload = await register(client, businessType=business_type)
    assert payload["errors"] == []
    assert payload["user"]["businessType"] == business_type
    assert (
        await pg.fetchval("SELECT business_type FROM users WHERE email = $1", fields["email"]) == business_type.lower()
    )


async def test_names_of_100_characters_are_accepted(client: GraphQLClient) -> None:
    _, payload = await register(client, firstName="F" * 100, lastName="L" * 100)
    assert payload["errors"] == []
    assert payload["user"]["firstName"] == "F" * 100


async def test_optional_fields_may_be_omitted(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    fields, payload = await register(client)
    assert payload["errors"] == []
    row = await pg.fetchrow("SELECT business_name, business_type, phone FROM users WHERE email = $1", fields["email"])
    assert tuple(row) == (None, None, None)


# --- rejections: one rule at a time --------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "plainaddress",
        "missing-at.example.com",
        "@example.com",
        "user@",
        "user@example",
        "us er@example.com",
        "user@exa mple.com",
        "user@@example.com",
        "user@-example.com",
        "",
        "   ",
    ],
)
async def test_invalid_email_is_rejected(client: GraphQLClient, pg: asyncpg.Connection, email: str) -> None:
    await assert_rejected(client, pg, {("input.email", "INVALID_EMAIL")}, email=email)


async def test_an_email_over_254_characters_is_too_long(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    await assert_rejected(client, pg, {("input.email", "TOO_LONG")}, email=f"{'a' * 250}@example.com")


@pytest.mark.parametrize(
    "password",
    [
        "Sh0rt-A",  # 7 characters
        "alllowercase-9",  # no upper case
        "ALLUPPERCASE-9",  # no lower case
        "No-Digits-Here",  # no digit
        "12345678",  # digits only
        "",
    ],
)
async def test_weak_password_is_rejected(client: GraphQLClient, pg: asyncpg.Connection, password: str) -> None:
    await assert_rejected(client, pg, {("input.password", "WEAK_PASSWORD")}, password=password)


async def test_eight_character_password_with_mixed_case_and_digit_is_accepted(client: GraphQLClient) -> None:
    _, payload = await register(client, password="Abcdef1g")
    assert payload["errors"] == []


async def test_password_equal_to_email_is_rejected(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    # Long enough, mixed case and a digit: only its equality with the email is wrong.
    email = f"Secret{uuid.uuid4().hex[:8]}9@Example.com"
    errors = await assert_rejected(client, pg, {("input.password", "WEAK_PASSWORD")}, email=email, password=email)
    assert "email" in errors[0]["message"].lower()


async def test_overlong_password_is_rejected(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    await assert_rejected(client, pg, {("input.password", "TOO_LONG")}, password="Aa1" + "x" * 300)


async def test_duplicate_email_is_rejected(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    fields, first = await register(client)
    assert first["errors"] == []
    _, again = await register(client, email=fields["email"])
    assert [(error["field"], error["code"]) for error in again["errors"]] == [("input.email", "ALREADY_EXISTS")]
    assert again["accessToken"] is None
    assert await users_with_email(pg, fields["email"]) == 1


async def test_duplicate_email_in_another_case_is_rejected(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    local = f"Casey-{uuid.uuid4().hex[:8]}"
    upper, lower = f"{local.upper()}@X.COM", f"{local.lower()}@x.com"
    _, first = await register(client, email=upper)
    assert first["errors"] == []
    assert await pg.fetchval("SELECT email FROM users WHERE lower(email) = $1", lower) == lower

    for variant in (lower, f" {local}@x.Com", upper):
        _, again = await register(client, email=variant)
        assert [(e["field"], e["code"]) for e in again["errors"]] == [("input.email", "ALREADY_EXISTS")]
        assert again["user"] is None and again["accessToken"] is None
    assert await users_with_email(pg, lower) == 1


async def test_concurrent_sign_ups_with_one_email_create_one_user(
    client: GraphQLClient, pg: asyncpg.Connection
) -> None:
    email = unique_email("race")
    payloads = await asyncio.gather(
        *(
            client.data(REGISTER, {"input": registration(email=email if index % 2 else email.upper())})
            for index in range(4)
        )
    )
    outcomes = sorted(tuple(e["code"] for e in payload["register"]["errors"]) for payload in payloads)
    assert outcomes == [(), ("ALREADY_EXISTS",), ("ALREADY_EXISTS",), ("ALREADY_EXISTS",)]
    assert await users_with_email(pg, email) == 1


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("firstName", "", "REQUIRED"),
        ("firstName", "   ", "REQUIRED"),
        ("firstName", "F" * 101, "TOO_LONG"),
        ("lastName", "", "REQUIRED"),
        ("lastName", "\t \n", "REQUIRED"),
        ("lastName", "L" * 101, "TOO_LONG"),
        ("businessName", "B" * 256, "TOO_LONG"),
    ],
)
async def test_invalid_names_are_rejected(
    client: GraphQLClient, pg: asyncpg.Connection, field: str, value: str, code: str
) -> None:
    await assert_rejected(client, pg, {(f"input.{field}", code)}, **{field: value})


@pytest.mark.parametrize(
    "timezone",
    [
        "Mars/Olympus_Mons",
        "sydney",
        "australia/sydney",
        "UTC+10",
        "",
        "GMT+25",
        "Australia/Sydney/Extra",
        "../../etc/passwd",
    ],
)
async def test_invalid_timezone_is_rejected(client: GraphQLClient, pg: asyncpg.Connection, timezone: str) -> None:
    await assert_rejected(client, pg, {("input.timezone", "INVALID_TIMEZONE")}, timezone=timezone)


@pytest.mark.parametrize(
    "phone",
    [
        "12345",
        "abc",
        "+0123456789",
        "0299990000",
        "+1 (555) 12",
        "+61 2 9999 0000 ext 5",
        "+" + "1" * 16,
        "++61299990000",
    ],
)
async def test_invalid_phone_is_rejected(client: GraphQLClient, pg: asyncpg.Connection, phone: str) -> None:
    await assert_rejected(client, pg, {("input.phone", "INVALID_PHONE")}, phone=phone)


@pytest.mark.parametrize("business_type", ["SPACE_PIRATES", "consulting", ""])
async def test_unknown_business_type_is_a_graphql_error(
    client: GraphQLClient, pg: asyncpg.Connection, business_type: str
) -> None:
    fields = registration(businessType=business_type)
    response = await client.post(REGISTER, {"input": fields})
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    assert "BusinessType" in body["errors"][0]["message"]
    assert await users_with_email(pg, fields["email"]) == 0


async def test_unknown_business_type_literal_is_a_validation_error(
    client: GraphQLClient, pg: asyncpg.Connection
) -> None:
    email = unique_email()
    mutation = f"""mutation {{ register(input: {{email: "{email}", password: "{PASSWORD}", firstName: "A",
        lastName: "B", businessType: SPACE_PIRATES}}) {{ user {{ id }} }} }}"""
    response = await client.post(mutation)
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    assert "BusinessType" in body["errors"][0]["message"]
    assert await users_with_email(pg, email) == 0


# --- several violations at once ------------------------------------------------------------------


async def test_every_violation_is_reported_together(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    # Two stages: what the door refuses (lengths, NUL) is reported together before the use case runs;
    # once the input passes the door, every rule of the use case is reported together.
    wrong = {
        "email": "not-an-email",
        "password": "weak",
        "firstName": " ",
        "lastName": "L" * 101,
        "businessName": "B" * 300,
        "phone": "call me",
        "timezone": "Atlantis/Capital",
    }
    at_the_door = await assert_rejected(
        client, pg, {("input.lastName", "TOO_LONG"), ("input.businessName", "TOO_LONG")}, **wrong
    )
    assert len(at_the_door) == 2
    errors = await assert_rejected(
        client,
        pg,
        {
            ("input.email", "INVALID_EMAIL"),
            ("input.password", "WEAK_PASSWORD"),
            ("input.firstName", "REQUIRED"),
            ("input.phone", "INVALID_PHONE"),
            ("input.timezone", "INVALID_TIMEZONE"),
        },
        **{**wrong, "lastName": "L", "businessName": "B"},
    )
    assert len(errors) == 5


async def test_duplicate_email_is_reported_with_the_other_violations(
    client: GraphQLClient, pg: asyncpg.Connection
) -> None:
    fields, first = await register(client)
    assert first["errors"] == []
    _, again = await register(client, email=fields["email"].upper(), password="weak", timezone="Nowhere/Town")
    assert {(e["field"], e["code"]) for e in again["errors"]} == {
        ("input.email", "ALREADY_EXISTS"),
        ("input.password", "WEAK_PASSWORD"),
        ("input.timezone", "INVALID_TIMEZONE"),
    }
    assert await users_with_email(pg, fields["email"]) == 1
