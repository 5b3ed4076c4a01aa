"""Tasks run by the worker of a live gateway (GATEWAY_RUN_WORKER=true) call their agent over one pooled MCP
session: one `initialize` for many tasks, and a peer restarted between tasks costs the next task nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.agents.flows import make_operator, register_agent, run_task, wait_for_task
from tests.agents.mcp_peer import free_port, mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp


@pytest.fixture
async def operator(live: GraphQLClient, live_pg: asyncpg.Connection) -> SignedUp:
    return await make_operator(live_pg, await live.register())


@pytest.fixture
async def owner(live: GraphQLClient) -> SignedUp:
    return await live.register()


async def test_tasks_for_one_agent_share_one_mcp_session(
    live: GraphQLClient, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer(api_key="shared-key") as peer:
        agent = await register_agent(live, operator, peer.url, api_key="shared-key")
        tasks = [await run_task(live, owner, agent["id"], "add", {"a": n, "b": 1}) for n in range(5)]
        done = await asyncio.gather(*(wait_for_task(live, owner, task["id"], {"COMPLETED"}) for task in tasks))
        assert [each["outputPayload"] for each in done] == [{"total": n + 1} for n in range(5)]
        assert peer.state.calls == {"add": 5}
        # Every call went over one session (the health cron's pings and discovery open sessions of their own).
        assert len(peer.state.sessions_calling("tools/call")) == 1


async def test_a_peer_restarted_between_tasks_does_not_fail_the_next_task(
    live: GraphQLClient, operator: SignedUp, owner: SignedUp
) -> None:
    port = free_port()
    async with mcp_peer(port=port) as peer:
        agent = await register_agent(live, operator, peer.url)  # retries: 0
        first = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 1})
        assert (await wait_for_task(live, owner, first["id"], {"COMPLETED"}))["outputPayload"] == {"total": 2}
    async with mcp_peer(port=port) as restarted:
        second = await run_task(live, owner, agent["id"], "add", {"a": 2, "b": 2})
        done = await wait_for_task(live, owner, second["id"], {"COMPLETED", "FAILED"})
        assert done["status"] == "COMPLETED" and done["retryCount"] == 0, done  # not even a retry of the task
        assert done["outputPayload"] == {"total": 4}
        assert restarted.state.calls == {"add": 1}  # the tool ran once
