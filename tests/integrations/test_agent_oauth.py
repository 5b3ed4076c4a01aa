"""Agents authenticated with `oauth` get real tokens: the client-credentials grant through authlib, the
token cached until it expires (one grant for many calls), fetched again when the agent refuses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from graph.node import decode_global_id
from tests.agents.flows import agent_input, error_codes, make_operator, register_agent
from tests.graphql_client import GraphQLClient
from tests.integrations.auth_server import CLIENT_ID, CLIENT_SECRET, RunningAuthServer
from tests.integrations.mcp_peer import RunningPeer, integration_peer
from tests.integrations.test_task_tokens import execute

REGISTER = """
mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { agent { id } errors { field code message } } }
"""
RUN_TASK = """
mutation($input: RunTaskInput!) { runTask(input: $input) { task { id status } errors { field code } } }
"""


@pytest.fixture
async def guarded_peer(oauth: RunningAuthServer) -> AsyncIterator[RunningPeer]:
    def valid(token: str) -> bool:
        return oauth.state.valid_access(token) is not None

    async with integration_peer(f"{oauth.url}/userinfo", require_token=valid) as running:
        yield running


def oauth_agent(oauth: RunningAuthServer, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "OAUTH",
        "apiKey": CLIENT_SECRET,
        "clientId": CLIENT_ID,
        "tokenUrl": f"{oauth.url}/token",
        "scope": "agents.call",
        **overrides,
    }


async def test_an_oauth_agent_is_called_with_client_credentials_tokens(
    gql: GraphQLClient,
    oauth: RunningAuthServer,
    guarded_peer: RunningPeer,
    oauth_resources: Any,
    pg: asyncpg.Connection,
) -> None:
    operator = await make_operator(pg, await gql.register())
    grants = oauth.state.token_calls.get("client_credentials", 0)
    agent = await register_agent(gql, operator, guarded_peer.url, authentication=oauth_agent(oauth))
    assert oauth.state.token_calls["client_credentials"] == grants + 1  # discovery got in with it
    stored = await pg.fetchval(
        "SELECT configuration::text FROM mcp_agents WHERE id = $1", decode_global_id(agent["id"])[1]
    )
    assert CLIENT_SECRET not in stored and '"tokenUrl"' in stored

    user = await gql.register()
    for _ in range(2):
        payload = (
            await gql.data(
                RUN_TASK,
                {"input": {"agentId": agent["id"], "taskType": "whoami", "input": {"provider": "gmail"}}},
                token=user.token,
            )
        )["runTask"]
        row = await execute(oauth_resources, pg, payload["task"]["id"])
        assert row["status"] == "failed" and "no gmail token was lent" in row["error_message"]  # reached the tool
    assert oauth.state.token_calls["client_credentials"] == grants + 1  # cached across calls

    # The provider forgets the token (revoked, expired early): the agent refuses it, a new one is fetched.
    oauth.state.access.clear()
    payload = (
        await gql.data(
            RUN_TASK,
            {"input": {"agentId": agent["id"], "taskType": "whoami", "input": {"provider": "gmail"}}},
            token=user.token,
        )
    )["runTask"]
    row = await execute(oauth_resources, pg, payload["task"]["id"])
    assert "no gmail token was lent" in row["error_message"]
    assert oauth.state.token_calls["client_credentials"] == grants + 2
    assert guarded_peer.seen.refused >= 1


async def test_client_credentials_need_a_client_id_and_a_safe_token_url(
    gql: GraphQLClient, oauth: RunningAuthServer, guarded_peer: RunningPeer, pg: asyncpg.Connection
) -> None:
    operator = await make_operator(pg, await gql.register())
    bad = agent_input(guarded_peer.url)
    bad["configuration"]["authentication"] = oauth_agent(
        oauth, clientId=None, tokenUrl="http://169.254.169.254/latest/token"
    )
    payload = (await gql.data(REGISTER, {"input": bad}, token=operator.token))["registerAgent"]
    assert sorted(error_codes(payload)) == [
        ("input.configuration.authentication.clientId", "REQUIRED"),
        ("input.configuration.authentication.tokenUrl", "UNSAFE_URL"),
    ]
