"""Password work cannot stall the server: at most one credential mutation (register, login,
changePassword, deleteAccount, resetPassword) per operation, refused before anything runs; hashing and
checking run off the event loop, so a real `gateway serve` keeps answering while logins pour in."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.conftest import create_database, drop_database, signing_keys_json
from tests.graphql_client import PASSWORD, GraphQLClient, SignedUp
from tests.live import LiveServer, gateway_env, live_server

FIELDS = "accessToken errors { code }"


def aliased_registers(emails: list[str]) -> str:
    fields = "\n".join(
        f'r{index}: register(input: {{email: "{email}", password: "{PASSWORD}", firstName: "A", lastName: "B"}})'
        f" {{ {FIELDS} }}"
        for index, email in enumerate(emails)
    )
    return f"mutation {{ {fields} }}"


def refused_operation(body: dict) -> dict:
    """The single GraphQL error of an operation that did not run at all."""
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "at most one" in error["message"]
    return error


async def accounts_with(pg: asyncpg.Connection, emails: list[str]) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM users WHERE email = ANY($1::text[])", emails))


async def test_ten_aliased_registers_are_refused_and_create_no_account(
    client: GraphQLClient, pg: asyncpg.Connection
) -> None:
    emails = [f"alias-{uuid.uuid4().hex[:10]}@example.com" for _ in range(10)]
    started = time.monotonic()
    refused_operation(await client.execute(aliased_registers(emails)))
    assert time.monotonic() - started < 2  # not ten hashes (~2.3 s) before the refusal
    assert await accounts_with(pg, emails) == 0


async def test_two_registers_through_fragments_are_refused(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    emails = [f"fragment-{uuid.uuid4().hex[:10]}@example.com" for _ in range(2)]
    registration = f'password: "{PASSWORD}", firstName: "A", lastName: "B"'
    document = f"""
    mutation {{ ...First ... on Mutation {{ second: register(input: {{email: "{emails[1]}", {registration}}})
                {{ {FIELDS} }} }} }}
    fragment First on Mutation {{ register(input: {{email: "{emails[0]}", {registration}}}) {{ {FIELDS} }} }}
    """
    refused_operation(await client.execute(document))
    assert await accounts_with(pg, emails) == 0


async def test_two_different_credential_mutations_are_refused(client: GraphQLClient, user: SignedUp) -> None:
    document = f"""mutation {{
      login(input: {{email: "{user.email}", password: "{PASSWORD}"}}) {{ {FIELDS} }}
      changePassword(input: {{currentPassword: "{PASSWORD}", newPassword: "Other-Horse-8"}}) {{ errors {{ code }} }}
    }}"""
    error = refused_operation(await client.execute(document, token=user.token))
    assert "changePassword" in error["message"] and "login" in error["message"]
    # Nothing ran: the password is unchanged.
    again = await client.execute(f"""mutation {{ login(input: {{email: "{user.email}", password: "{PASSWORD}"}})
                                    {{ {FIELDS} }} }}""")
    assert again["data"]["login"]["errors"] == []


async def test_one_credential_mutation_beside_other_fields_runs(client: GraphQLClient, user: SignedUp) -> None:
    document = f"""mutation {{
      login(input: {{email: "{user.email}", password: "{PASSWORD}"}}) {{ {FIELDS} }}
      logout(input: {{refreshToken: "{user.refresh_token}"}}) {{ errors {{ code }} }}
    }}"""
    body = await client.execute(document)
    assert "errors" not in body, body
    assert body["data"]["login"]["errors"] == [] and body["data"]["login"]["accessToken"]


# --- the event loop stays free -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def password_server(
    pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    database = create_database(pg_server_url, "gateway_passwords")
    # Behind a "proxy" on 127.0.0.1, each request can name its own client address: the attempt
    # limits stay out of the way, so every login really checks a password.
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("passwords"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
        GATEWAY_TRUSTED_PROXIES="127.0.0.1",
    )
    try:
        with live_server(env, log=tmp_path_factory.mktemp("logs") / "passwords.log") as server:
            yield server
    finally:
        drop_database(pg_server_url, database)


LOGIN = "mutation($input: LoginInput!) { login(input: $input) { accessToken errors { code } } }"
REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { accessToken errors { code } } }"


def some_address() -> str:
    return (
        f"198.51.100.{secrets.randbelow(254) + 1}"
        if secrets.randbelow(2)
        else f"203.0.113.{secrets.randbelow(254) + 1}"
    )


async def test_healthz_answers_quickly_while_logins_pour_in(password_server: LiveServer) -> None:
    email = f"busy-{uuid.uuid4().hex[:10]}@example.com"
    async with httpx.AsyncClient(base_url=password_server.url, timeout=60) as http:
        signed = (
            await http.post(
                "/graphql",
                json={
                    "query": REGISTER,
                    "variables": {
                        "input": {"email": email, "password": PASSWORD, "firstName": "Busy", "lastName": "Bee"}
                    },
                },
            )
        ).json()
        assert signed["data"]["register"]["errors"] == []
        checked: list[str] = []
        stop = asyncio.Event()

        async def hammer(index: int) -> None:
            while not stop.is_set():
                wrong = index % 2 == 1
                variables = {
                    "input": {
                        "email": email if not wrong else f"x-{uuid.uuid4().hex[:8]}@example.com",
                        "password": "Wrong-Horse-1" if wrong else PASSWORD,
                    }
                }
                reply = await http.post(
                    "/graphql",
                    json={"query": LOGIN, "variables": variables},
                    headers={"X-Forwarded-For": some_address()},
                )
                errors = reply.json()["data"]["login"]["errors"]
                checked.append(errors[0]["code"] if errors else "OK")

        loggers = [asyncio.create_task(hammer(index)) for index in range(8)]
        latencies: list[float] = []
        try:
            await asyncio.sleep(0.5)  # the pool is busy now
            async with httpx.AsyncClient(base_url=password_server.url, timeout=10) as probe:
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    started = time.monotonic()
                    assert (await probe.get("/healthz")).status_code == 200
                    latencies.append(time.monotonic() - started)
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.gather(*loggers)
    # Passwords were really checked all along (right and wrong), not refused by a limiter.
    assert checked.count("OK") >= 4 and checked.count("INVALID_CREDENTIALS") >= 4, checked
    assert "RATE_LIMITED" not in checked
    assert max(latencies) < 0.25, f"slowest /healthz {max(latencies) * 1000:.0f} ms over {len(latencies)} probes"
