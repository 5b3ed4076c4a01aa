"""Operators: `gateway grant-operator EMAIL` / `gateway revoke-operator EMAIL` set `users.role`, the graph
shows it as `User.role`, and the `IsOperator` permission class answers FORBIDDEN to everyone else: end to
end through the agent registry's `deleteAgent`, and on a probe field of a small schema served by the real
gateway view (tests/graph/test_mutation_matrix.py covers every operator-only mutation)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.routing import Route

from graph.app import GatewayGraphQL
from graph.context import Info
from graph.extensions import extensions
from graph.permissions import IsAuthenticated, IsOperator
from services.resources import Resources
from tests import factories
from tests.factories import gid
from tests.graphql_client import GraphQLClient, SignedUp
from tests.live import GATEWAY, gateway_env

ROLE = "{ viewer { role } }"


def gateway(database_url: str, redis_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = gateway_env(database_url.replace("+asyncpg", ""), redis_url, data_dir)
    return subprocess.run([GATEWAY, *args], env=env, capture_output=True, text=True, timeout=120)


async def role_of(client: GraphQLClient, user: SignedUp) -> str:
    return (await client.data(ROLE, token=user.token))["viewer"]["role"]


async def test_a_new_account_is_a_regular_user(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    assert await role_of(client, user) == "USER"
    assert await pg.fetchval("SELECT role FROM users WHERE id = $1", user.pk) == "user"


async def test_grant_and_revoke_operator_from_the_command_line(
    client: GraphQLClient, pg: asyncpg.Connection, database_url: str, redis_url: str, tmp_path: Path, user: SignedUp
) -> None:
    granted = gateway(database_url, redis_url, tmp_path, "grant-operator", user.email.upper())
    assert granted.returncode == 0, granted.stderr
    assert "operator" in granted.stdout
    assert await pg.fetchval("SELECT role FROM users WHERE id = $1", user.pk) == "operator"
    assert await role_of(client, user) == "OPERATOR"  # the same token: the role is read per request

    revoked = gateway(database_url, redis_url, tmp_path, "revoke-operator", user.email)
    assert revoked.returncode == 0, revoked.stderr
    assert await pg.fetchval("SELECT role FROM users WHERE id = $1", user.pk) == "user"
    assert await role_of(client, user) == "USER"


DELETE_AGENT = """mutation($input: DeleteAgentInput!) { deleteAgent(input: $input) { errors { code } } }"""


async def test_the_cli_decides_who_may_change_the_agent_registry(
    client: GraphQLClient, pg: asyncpg.Connection, database_url: str, redis_url: str, tmp_path: Path, user: SignedUp
) -> None:
    agent = await factories.agent(pg)
    variables = {"input": {"agentId": gid("MCPAgent", agent)}}
    forbidden = await client.execute(DELETE_AGENT, variables, token=user.token)
    assert denial(forbidden) == "FORBIDDEN"

    assert gateway(database_url, redis_url, tmp_path, "grant-operator", user.email).returncode == 0
    assert await client.data(DELETE_AGENT, variables, token=user.token) == {"deleteAgent": {"errors": []}}

    assert gateway(database_url, redis_url, tmp_path, "revoke-operator", user.email).returncode == 0
    other = await factories.agent(pg)
    again = await client.execute(DELETE_AGENT, {"input": {"agentId": gid("MCPAgent", other)}}, token=user.token)
    assert denial(again) == "FORBIDDEN"


async def test_granting_an_unknown_or_deleted_account_fails(
    pg: asyncpg.Connection, database_url: str, redis_url: str, tmp_path: Path, user: SignedUp
) -> None:
    unknown = gateway(database_url, redis_url, tmp_path, "grant-operator", f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    assert unknown.returncode == 1 and "no account" in unknown.stderr

    await pg.execute("UPDATE users SET deleted_at = now() WHERE id = $1", user.pk)
    deleted = gateway(database_url, redis_url, tmp_path, "grant-operator", user.email)
    assert deleted.returncode == 1 and "no account" in deleted.stderr
    assert await pg.fetchval("SELECT role FROM users WHERE id = $1", user.pk) == "user"


async def test_the_database_refuses_an_unknown_role(pg: asyncpg.Connection, user: SignedUp) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await pg.execute("UPDATE users SET role = 'root' WHERE id = $1", user.pk)


# --- the IsOperator permission class ---------------------------------------------------------------


@strawberry.type
class ProbeQuery:
    @strawberry.field(permission_classes=[IsOperator])
    def operator_secret(self, info: Info) -> str:
        return "registry-write-access"

    @strawberry.field(permission_classes=[IsAuthenticated])
    def member_secret(self, info: Info) -> str:
        return "member"


@pytest.fixture
async def probe(resources: Resources) -> AsyncIterator[GraphQLClient]:
    """The gateway's own view and context over a schema with one operator-only field."""
    schema = strawberry.Schema(query=ProbeQuery, extensions=extensions(resources.settings))
    view = GatewayGraphQL(resources, schema=schema)
    async with GraphQLClient.over_asgi(Starlette(routes=[Route("/graphql", view, methods=["POST"])])) as client:
        yield client


def denial(body: dict) -> str:
    assert body.get("data") is None, body
    return body["errors"][0]["extensions"]["code"]


async def test_is_operator_forbids_regular_users_and_asks_anonymous_to_sign_in(
    probe: GraphQLClient, client: GraphQLClient, pg: asyncpg.Connection
) -> None:
    regular = await client.register()
    operator = await client.register()
    await pg.execute("UPDATE users SET role = 'operator' WHERE id = $1", operator.pk)

    query = "{ operatorSecret }"
    assert await probe.data(query, token=operator.token) == {"operatorSecret": "registry-write-access"}
    assert denial(await probe.execute(query, token=regular.token)) == "FORBIDDEN"
    assert denial(await probe.execute(query)) == "UNAUTHENTICATED"
    # The permission object is shared by every request: an anonymous denial must not change what the
    # next regular user is told, nor the other way round.
    assert denial(await probe.execute(query, token=regular.token)) == "FORBIDDEN"
    assert denial(await probe.execute(query)) == "UNAUTHENTICATED"
    assert (await probe.execute(query, token=regular.token))["errors"][0]["message"] == "Only operators can do this."
    assert await probe.data(query, token=operator.token) == {"operatorSecret": "registry-write-access"}


async def test_a_deleted_operator_is_no_operator(
    probe: GraphQLClient, client: GraphQLClient, pg: asyncpg.Connection
) -> None:
    operator = await client.register()
    await pg.execute("UPDATE users SET role = 'operator', deleted_at = now() WHERE id = $1", operator.pk)
    assert denial(await probe.execute("{ operatorSecret }", token=operator.token)) == "UNAUTHENTICATED"
    assert denial(await probe.execute("{ memberSecret }", token=operator.token)) == "UNAUTHENTICATED"


async def test_a_revoked_operator_is_forbidden_at_once(
    probe: GraphQLClient, client: GraphQLClient, pg: asyncpg.Connection
) -> None:
    operator = await client.register()
    await pg.execute("UPDATE users SET role = 'operator' WHERE id = $1", operator.pk)
    assert await probe.data("{ operatorSecret }", token=operator.token)
    await pg.execute("UPDATE users SET role = 'user' WHERE id = $1", operator.pk)
    assert denial(await probe.execute("{ operatorSecret }", token=operator.token)) == "FORBIDDEN"
