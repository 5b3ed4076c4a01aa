"""No network call inside a database transaction or under a row lock (habit 10): while an agent's peer
hangs mid-call, the gateway holds no connection idle in transaction, other writes (to other agents and to
the same agent) go through at once, and a result gathered before the agent changed is not stored."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from typing import Any

import asyncpg
from redis.asyncio import Redis

from tests.agents.flows import (
    CHECK_HEALTH,
    DELETE_AGENT,
    REFRESH_AGENT,
    UPDATE_AGENT,
    error_codes,
    register_agent,
)
from tests.agents.mcp_peer import RunningPeer, mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp

AT_ONCE_SECONDS = 3.0  # far below the peer's 10 s hang
HANG_TIMEOUT_MS = 15_000  # the agent's own timeout lets the call hang the whole 10 s


async def idle_in_transaction(pg: asyncpg.Connection) -> int:
    return int(
        await pg.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
        )
    )


async def timed(work: Awaitable[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    result = await work
    return time.monotonic() - started, result


async def hanging(peer: RunningPeer, method: str, call: Awaitable[dict[str, Any]]) -> asyncio.Task[dict[str, Any]]:
    """Start `call` and return once the peer is sitting on its `method` request."""
    peer.state.hold.add(method)
    task = asyncio.ensure_future(call)
    await asyncio.wait_for(peer.state.held.wait(), 5)
    return task


async def update(client: GraphQLClient, operator: SignedUp, agent_id: str, **fields: Any) -> dict[str, Any]:
    payload = (await client.data(UPDATE_AGENT, {"input": {"agentId": agent_id, **fields}}, token=operator.token))[
        "updateAgent"
    ]
    return payload  # type: ignore[no-any-return]


async def assert_nothing_waits_on_the_peer(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp, hung_id: str, other_id: str
) -> None:
    assert await idle_in_transaction(pg) == 0
    elapsed, other = await timed(update(client, operator, other_id, description="changed meanwhile"))
    assert other["errors"] == [] and other["agent"]["description"] == "changed meanwhile"
    assert elapsed < AT_ONCE_SECONDS, f"another agent's update waited {elapsed:.1f} s"
    # Not even the agent being called is locked: a change that does not touch how it is reached goes through.
    elapsed, same = await timed(update(client, operator, hung_id, description="described meanwhile"))
    assert same["errors"] == []
    assert elapsed < AT_ONCE_SECONDS, f"the called agent's own update waited {elapsed:.1f} s"
    assert await idle_in_transaction(pg) == 0


async def test_refresh_holds_no_transaction_while_the_peer_hangs(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp
) -> None:
    async with mcp_peer(version="1.0.0") as peer, mcp_peer() as other_peer:
        agent = await register_agent(client, operator, peer.url, timeout=HANG_TIMEOUT_MS)
        other = await register_agent(client, operator, other_peer.url)
        refresh = await hanging(
            peer, "tools/list", client.data(REFRESH_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token)
        )
        try:
            await assert_nothing_waits_on_the_peer(client, pg, operator, agent["id"], other["id"])
            assert not refresh.done()  # the peer still hangs: all of the above happened during the call
        finally:
            peer.state.release.set()
        refreshed = (await refresh)["refreshAgentCapabilities"]
    # The change made meanwhile did not touch the endpoint or key: the discovery is stored, and so is it.
    assert refreshed["errors"] == []
    assert refreshed["agent"]["description"] == "described meanwhile"
    assert len(refreshed["agent"]["capabilities"]) == 4


async def test_health_check_holds_no_transaction_while_the_peer_hangs(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp
) -> None:
    async with mcp_peer() as peer, mcp_peer() as other_peer:
        agent = await register_agent(client, operator, peer.url, timeout=HANG_TIMEOUT_MS)
        other = await register_agent(client, operator, other_peer.url)
        check = await hanging(
            peer, "ping", client.data(CHECK_HEALTH, {"input": {"agentId": agent["id"]}}, token=operator.token)
        )
        try:
            await assert_nothing_waits_on_the_peer(client, pg, operator, agent["id"], other["id"])
            assert not check.done()
        finally:
            peer.state.release.set()
        checked = (await check)["checkAgentHealth"]
    assert checked["errors"] == []
    assert checked["agent"]["healthStatus"] == "HEALTHY" and checked["agent"]["lastHealthCheck"] is not None


async def test_a_discovery_from_before_the_endpoint_moved_is_not_stored(
    client: GraphQLClient, pg: asyncpg.Connection, redis: Redis, operator: SignedUp
) -> None:
    async with mcp_peer(version="1.0.0") as old, mcp_peer(version="9.9.9", only={"add"}) as new:
        agent = await register_agent(client, operator, old.url, timeout=HANG_TIMEOUT_MS)
        refresh = await hanging(
            old, "tools/list", client.data(REFRESH_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token)
        )
        try:
            elapsed, moved = await timed(update(client, operator, agent["id"], endpoint=new.url))
            assert moved["errors"] == [] and moved["agent"]["version"] == "9.9.9"
            assert elapsed < AT_ONCE_SECONDS
        finally:
            old.state.release.set()
        stale = (await refresh)["refreshAgentCapabilities"]
    # The old endpoint's tools answered after the move: refused with a typed error, not written.
    assert error_codes(stale) == [("input.agentId", "INVALID_STATE")]
    row = await pg.fetchrow("SELECT id, endpoint, version, capabilities FROM mcp_agents WHERE name = $1", agent["name"])
    assert row["endpoint"] == new.url and row["version"] == "9.9.9"
    assert [tool["name"] for tool in json.loads(row["capabilities"])] == ["add"]
    cached = await redis.get(f"agent:capabilities:{row['id']}")
    assert [tool["name"] for tool in json.loads(cached)] == ["add"]


async def test_an_agent_deleted_during_its_health_check_is_not_written(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp
) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(client, operator, peer.url, timeout=HANG_TIMEOUT_MS)
        check = await hanging(
            peer, "ping", client.data(CHECK_HEALTH, {"input": {"agentId": agent["id"]}}, token=operator.token)
        )
        try:
            elapsed, deleted = await timed(
                client.data(DELETE_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token)
            )
            assert deleted["deleteAgent"]["errors"] == []
            assert elapsed < AT_ONCE_SECONDS
        finally:
            peer.state.release.set()
        checked = (await check)["checkAgentHealth"]
    assert error_codes(checked) == [("input.agentId", "NOT_FOUND")]
    assert await pg.fetchval("SELECT last_health_check FROM mcp_agents WHERE name = $1", agent["name"]) is None
