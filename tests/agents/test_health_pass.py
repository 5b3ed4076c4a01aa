"""The health cron goes on past an agent whose check breaks: that agent's check is recorded as failed (as for
an agent that does not answer: checked, unhealthy and in error after three failures in a row), and the
other agents are still checked."""

from __future__ import annotations

import uuid

import asyncpg
from redis.asyncio import Redis

from graph.node import decode_global_id
from jobs.context import WorkerDeps
from jobs.health import check_agents
from services.resources import Resources
from tests.agents.flows import register_agent
from tests.agents.mcp_peer import mcp_peer
from tests.graph.paging import unique
from tests.graphql_client import GraphQLClient, SignedUp

# Nested deeper than Python's JSON decoder goes: PostgreSQL stores it, loading the row raises RecursionError
# (not a refusal the check knows).
TOO_DEEP = '{"timeout": 1000, "x": ' + "[" * 3000 + "]" * 3000 + "}"
NOT_A_CONFIGURATION = '{"timeout": "soon", "authentication": {"type": "password"}}'


async def _broken(pg: asyncpg.Connection, configuration: str) -> uuid.UUID:
    return await pg.fetchval(
        """INSERT INTO mcp_agents (name, endpoint, status, configuration)
           VALUES ($1, 'http://127.0.0.1:9/mcp', 'active', $2::jsonb) RETURNING id""",
        unique("broken"),
        configuration,
    )


async def test_a_broken_agent_fails_its_own_check_and_the_pass_goes_on(
    client: GraphQLClient, pg: asyncpg.Connection, redis: Redis, resources: Resources, operator: SignedUp
) -> None:
    deps = WorkerDeps.of(resources)
    # Broken first: the pass meets them before the good one.
    deep = await _broken(pg, TOO_DEEP)
    unreadable = await _broken(pg, NOT_A_CONFIGURATION)
    try:
        async with mcp_peer() as peer:
            good = decode_global_id((await register_agent(client, operator, peer.url))["id"])[1]
            for _ in range(3):
                await check_agents({"deps": deps})

        row = await pg.fetchrow("SELECT status, health_status, last_health_check FROM mcp_agents WHERE id = $1", good)
        assert row["health_status"] == "healthy" and row["last_health_check"] is not None and row["status"] == "active"
        for broken in (deep, unreadable):
            row = await pg.fetchrow(
                "SELECT status, health_status, last_health_check FROM mcp_agents WHERE id = $1", broken
            )
            assert row["last_health_check"] is not None, broken
            assert (row["health_status"], row["status"]) == ("unhealthy", "error")
            assert int(await redis.get(f"agent:health:failures:{broken}")) == 3
    finally:
        # Rows no list could read: they must not outlive the test in the shared database.
        await pg.execute("DELETE FROM mcp_agents WHERE id = ANY($1::uuid[])", [deep, unreadable])
