"""Discovery over MCP (tools and version stored, cached in Redis for 6 h, refreshed on demand) and health
(checkAgentHealth and the cron job: health URL or MCP ping, unhealthy after 3 consecutive failures)."""

from __future__ import annotations

import json

import asyncpg
from redis.asyncio import Redis

from graph.node import decode_global_id
from jobs.context import WorkerDeps
from jobs.health import check_agents
from services.resources import Resources
from tests.agents.flows import CHECK_HEALTH, REFRESH_AGENT, RUN_TASK, error_codes, register_agent, when
from tests.agents.mcp_peer import free_port, mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp

SIX_HOURS = 6 * 60 * 60


def pk_of(global_id: str):
    return decode_global_id(global_id)[1]


async def test_registration_discovers_tools_and_version(
    client: GraphQLClient, pg: asyncpg.Connection, redis: Redis, operator: SignedUp
) -> None:
    async with mcp_peer(version="3.1.4") as peer:
        agent = await register_agent(client, operator, peer.url)
    assert agent["version"] == "3.1.4"
    assert agent["status"] == "ACTIVE" and agent["healthStatus"] == "UNKNOWN"
    tools = {tool["name"]: tool for tool in agent["capabilities"]}
    assert set(tools) == {"add", "sleep", "flaky", "broken"}
    add = tools["add"]
    assert add["description"] == "Add two integers."
    assert add["inputSchema"]["type"] == "object"
    assert add["inputSchema"]["required"] == ["a", "b"]
    assert add["inputSchema"]["properties"]["a"]["type"] == "integer"
    assert add["outputSchema"]["properties"]["total"]["type"] == "integer"
    assert tools["sleep"]["inputSchema"]["properties"]["seconds"]["type"] == "number"

    stored = await pg.fetchrow("SELECT version, capabilities FROM mcp_agents WHERE id = $1", pk_of(agent["id"]))
    assert stored["version"] == "3.1.4"
    assert json.loads(stored["capabilities"]) == agent["capabilities"]

    key = f"agent:capabilities:{pk_of(agent['id'])}"
    assert json.loads(await redis.get(key)) == agent["capabilities"]
    assert 0 < await redis.ttl(key) <= SIX_HOURS


async def test_refresh_rediscovers_and_recaches(
    client: GraphQLClient, pg: asyncpg.Connection, redis: Redis, operator: SignedUp, user: SignedUp
) -> None:
    port = free_port()
    async with mcp_peer(port=port, version="1.0.0", only={"add"}) as peer:
        agent = await register_agent(client, operator, peer.url)
    assert [tool["name"] for tool in agent["capabilities"]] == ["add"]
    variables = {"input": {"agentId": agent["id"]}}

    # Down: a typed error, and what was discovered before stays.
    down = (await client.data(REFRESH_AGENT, variables, token=operator.token))["refreshAgentCapabilities"]
    assert error_codes(down) == [("input.endpoint", "UNREACHABLE")]
    assert await pg.fetchval("SELECT version FROM mcp_agents WHERE id = $1", pk_of(agent["id"])) == "1.0.0"

    # The agent came back with more tools and a new version.
    async with mcp_peer(port=port, version="2.0.0") as peer:
        refreshed = (await client.data(REFRESH_AGENT, variables, token=operator.token))["refreshAgentCapabilities"]
        assert refreshed["errors"] == []
        assert peer.state.requests > 0
    assert refreshed["agent"]["version"] == "2.0.0"
    assert {tool["name"] for tool in refreshed["agent"]["capabilities"]} == {"add", "sleep", "flaky", "broken"}
    stored = await pg.fetchrow("SELECT version, capabilities FROM mcp_agents WHERE id = $1", pk_of(agent["id"]))
    assert stored["version"] == "2.0.0" and len(json.loads(stored["capabilities"])) == 4
    key = f"agent:capabilities:{pk_of(agent['id'])}"
    assert {tool["name"] for tool in json.loads(await redis.get(key))} == {"add", "sleep", "flaky", "broken"}
    assert 0 < await redis.ttl(key) <= SIX_HOURS

    # runTask sees the new tools at once (the cache was refreshed, not left stale).
    payload = (
        await client.data(
            RUN_TASK,
            {"input": {"agentId": agent["id"], "taskType": "sleep", "input": {"seconds": 0}}},
            token=user.token,
        )
    )["runTask"]
    assert payload["errors"] == []
    # ... and with the cache gone (expired), from the table.
    await redis.delete(key)
    payload = (
        await client.data(
            RUN_TASK,
            {"input": {"agentId": agent["id"], "taskType": "flaky", "input": {"label": "x"}}},
            token=user.token,
        )
    )["runTask"]
    assert payload["errors"] == []
    assert 0 < await redis.ttl(key) <= SIX_HOURS


async def check(client: GraphQLClient, operator: SignedUp, agent_id: str) -> dict:
    payload = (await client.data(CHECK_HEALTH, {"input": {"agentId": agent_id}}, token=operator.token))[
        "checkAgentHealth"
    ]
    assert payload["errors"] == []
    return payload["agent"]  # type: ignore[no-any-return]


async def test_health_by_mcp_ping_turns_unhealthy_after_three_consecutive_failures(
    client: GraphQLClient, operator: SignedUp
) -> None:
    port = free_port()
    async with mcp_peer(port=port) as peer:
        agent = await register_agent(client, operator, peer.url, timeout=2000)
        before = peer.state.requests
        checked = await check(client, operator, agent["id"])
        assert checked["healthStatus"] == "HEALTHY"
        assert peer.state.requests > before  # an MCP ping went to the agent
        assert peer.state.calls == {}  # a ping, not a tool call
    first_check = when(checked["lastHealthCheck"])

    # Down: two failures are tolerated, the third marks it unhealthy, and the agent in ERROR.
    statuses = []
    for _ in range(3):
        checked = await check(client, operator, agent["id"])
        statuses.append((checked["healthStatus"], checked["status"]))
        assert when(checked["lastHealthCheck"]) > first_check
    assert statuses == [("HEALTHY", "ACTIVE"), ("HEALTHY", "ACTIVE"), ("UNHEALTHY", "ERROR")]

    # Back: healthy and ACTIVE at once, and the failure count starts again from zero.
    async with mcp_peer(port=port):
        back = await check(client, operator, agent["id"])
        assert (back["healthStatus"], back["status"]) == ("HEALTHY", "ACTIVE")
    statuses = [(await check(client, operator, agent["id"]))["healthStatus"] for _ in range(3)]
    assert statuses == ["HEALTHY", "HEALTHY", "UNHEALTHY"]


async def test_health_uses_the_health_check_url_when_set(client: GraphQLClient, operator: SignedUp) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(client, operator, peer.url)
        good = await client.data(
            """mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { errors { code } } }""",
            {"input": {"agentId": agent["id"], "healthCheckUrl": peer.health_url}},
            token=operator.token,
        )
        assert good["updateAgent"]["errors"] == []
        checked = await check(client, operator, agent["id"])
        assert checked["healthStatus"] == "HEALTHY" and checked["lastHealthCheck"] is not None

        # A health URL that answers 404 fails the check even though the MCP endpoint is fine: the URL,
        # not a ping, decides.
        bad = await client.data(
            """mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { errors { code } } }""",
            {"input": {"agentId": agent["id"], "healthCheckUrl": peer.health_url + "/missing"}},
            token=operator.token,
        )
        assert bad["updateAgent"]["errors"] == []
        statuses = [(await check(client, operator, agent["id"]))["healthStatus"] for _ in range(3)]
        assert statuses == ["HEALTHY", "HEALTHY", "UNHEALTHY"]


async def test_the_cron_job_checks_every_agent_in_use(
    client: GraphQLClient, pg: asyncpg.Connection, resources: Resources, operator: SignedUp
) -> None:
    deps = WorkerDeps.of(resources)
    async with mcp_peer() as peer, mcp_peer() as other:
        by_ping = await register_agent(client, operator, peer.url)
        by_url = await register_agent(client, operator, other.url)
        await client.data(
            """mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { errors { code } } }""",
            {"input": {"agentId": by_url["id"], "healthCheckUrl": other.health_url}},
            token=operator.token,
        )
        inactive = await register_agent(client, operator, peer.url)
        await pg.execute("UPDATE mcp_agents SET status = 'inactive' WHERE id = $1", pk_of(inactive["id"]))
        deleted = await register_agent(client, operator, peer.url)
        await pg.execute("UPDATE mcp_agents SET deleted_at = now() WHERE id = $1", pk_of(deleted["id"]))
        # Agents in ERROR are checked too, so that they recover; INACTIVE ones are out of use.
        active = await pg.fetchval(
            "SELECT count(*) FROM mcp_agents WHERE status IN ('active', 'error') AND deleted_at IS NULL"
        )

        checked = await check_agents({"deps": deps})
        assert checked == active

    rows = {
        row["id"]: row
        for row in await pg.fetch(
            "SELECT id, health_status, last_health_check FROM mcp_agents WHERE id = ANY($1::uuid[])",
            [pk_of(a["id"]) for a in (by_ping, by_url, inactive, deleted)],
        )
    }
    for agent in (by_ping, by_url):
        row = rows[pk_of(agent["id"])]
        assert row["health_status"] == "healthy" and row["last_health_check"] is not None
    for agent in (inactive, deleted):
        assert rows[pk_of(agent["id"])]["last_health_check"] is None
    # Every other active agent in the table got a check too.
    unchecked = await pg.fetchval(
        "SELECT count(*) FROM mcp_agents WHERE status = 'active' AND deleted_at IS NULL AND last_health_check IS NULL"
    )
    assert unchecked == 0
