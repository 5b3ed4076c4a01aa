"""Tokens lent to an MCP tool per task: the worker's job fetches fresh tokens from the vault and passes them
in the call's `_meta`, never in the stored input or output; an expired or disconnected integration fails
the task with a clear error before any call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from graph.node import decode_global_id, global_id
from jobs.context import WorkerDeps
from jobs.tasks import execute_task
from tests.agents.flows import error_codes, make_operator, register_agent
from tests.graphql_client import GraphQLClient, SignedUp
from tests.integrations.auth_server import RunningAuthServer
from tests.integrations.conftest import DISCONNECT, Browser
from tests.integrations.mcp_peer import RunningPeer, integration_peer
from tests.integrations.test_vault import connected

RUN_TASK = """
mutation($input: RunTaskInput!) {
  runTask(input: $input) { task { id status } errors { field code message } }
}"""


@pytest.fixture
async def peer(oauth: RunningAuthServer) -> AsyncIterator[RunningPeer]:
    async with integration_peer(f"{oauth.url}/userinfo") as running:
        yield running


@pytest.fixture
async def agent_id(gql: GraphQLClient, pg: asyncpg.Connection, peer: RunningPeer) -> str:
    operator = await make_operator(pg, await gql.register())
    return str((await register_agent(gql, operator, peer.url))["id"])


def worker_deps(resources: Any) -> WorkerDeps:
    return WorkerDeps.of(resources)


async def run(gql: GraphQLClient, user: SignedUp, agent: str, integrations: list[str]) -> dict[str, Any]:
    variables = {
        "input": {
            "agentId": agent,
            "taskType": "whoami",
            "input": {"provider": "gmail"},
            "integrationIds": integrations,
        }
    }
    return (await gql.data(RUN_TASK, variables, token=user.token))["runTask"]  # type: ignore[no-any-return]


async def execute(resources: Any, pg: asyncpg.Connection, task_id: str) -> asyncpg.Record:
    pk = decode_global_id(task_id)[1]
    await execute_task({"deps": worker_deps(resources)}, task_id=str(pk))
    return await pg.fetchrow("SELECT * FROM tasks WHERE id = $1", pk)


async def test_the_tool_receives_a_working_token_that_no_row_keeps(
    gql: GraphQLClient,
    browser: Browser,
    member: SignedUp,
    oauth: RunningAuthServer,
    oauth_resources: Any,
    agent_id: str,
    peer: RunningPeer,
    pg: asyncpg.Connection,
) -> None:
    oauth.state.access_ttl = 60  # due: the vault refreshes it before lending
    pk = await connected(gql, browser, member)
    payload = await run(gql, member, agent_id, [global_id("Integration", pk)])
    assert payload["errors"] == []
    row = await execute(oauth_resources, pg, payload["task"]["id"])
    assert row["status"] == "completed", row["error_message"]
    assert "owner@example.com" in row["output_payload"]
    lent = peer.seen.metas[-1]["integrations"]["gmail"]
    assert oauth.state.valid_access(lent["accessToken"]) and lent["scopes"]
    assert oauth.state.token_calls.get("refresh_token", 0) >= 1
    stored = json.dumps({key: str(value) for key, value in dict(row).items()})
    assert lent["accessToken"] not in stored and "at-" not in stored and "rt-" not in stored


async def test_an_expired_or_disconnected_integration_fails_the_task_before_any_call(
    gql: GraphQLClient,
    browser: Browser,
    member: SignedUp,
    oauth: RunningAuthServer,
    oauth_resources: Any,
    agent_id: str,
    peer: RunningPeer,
    pg: asyncpg.Connection,
) -> None:
    pk = await connected(gql, browser, member)
    payload = await run(gql, member, agent_id, [global_id("Integration", pk)])
    await pg.execute("UPDATE integrations SET status = 'expired' WHERE id = $1", pk)
    row = await execute(oauth_resources, pg, payload["task"]["id"])
    assert row["status"] == "failed" and row["error_message"] == "The gmail integration has expired; reconnect it."
    await pg.execute("UPDATE integrations SET status = 'connected' WHERE id = $1", pk)
    payload = await run(gql, member, agent_id, [global_id("Integration", pk)])
    await gql.data(DISCONNECT, {"input": {"integrationId": global_id("Integration", pk)}}, token=member.token)
    row = await execute(oauth_resources, pg, payload["task"]["id"])
    assert row["status"] == "failed" and "disconnected" in row["error_message"]
    assert peer.seen.metas == []  # no call reached the tool


async def test_run_task_refuses_integrations_that_are_not_yours(
    gql: GraphQLClient, browser: Browser, member: SignedUp, agent_id: str, pg: asyncpg.Connection
) -> None:
    pk = await connected(gql, browser, member)
    stranger = await gql.register()
    count = await pg.fetchval("SELECT count(*) FROM tasks")
    payload = await run(gql, stranger, agent_id, [global_id("Integration", pk), "junk"])
    assert error_codes(payload) == [
        ("input.integrationIds.0", "NOT_FOUND"),
        ("input.integrationIds.1", "NOT_FOUND"),
    ]
    assert await pg.fetchval("SELECT count(*) FROM tasks") == count
