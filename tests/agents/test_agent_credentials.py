"""An agent's key goes only to the origin (scheme, host, port) it was registered for. A second real server
on loopback records every header it receives and must never see the key: not from a health check URL
on its origin, not from an endpoint moved there without the key, not through a ciphertext copied to
another agent or kept across an origin change."""

from __future__ import annotations

import json
import uuid

import asyncpg

from graph.node import decode_global_id
from services.resources import Resources
from tests.agents.flows import CHECK_HEALTH, REFRESH_AGENT, UPDATE_AGENT, error_codes, register_agent
from tests.agents.mcp_peer import mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


async def configuration(pg: asyncpg.Connection, agent_id: str) -> dict:
    return json.loads(
        await pg.fetchval("SELECT configuration::text FROM mcp_agents WHERE id = $1", decode_global_id(agent_id)[1])
    )


async def test_a_health_check_url_on_another_origin_is_called_without_the_key(
    client: GraphQLClient, operator: SignedUp
) -> None:
    key = new_key()
    async with mcp_peer(api_key=key) as agent_peer, mcp_peer() as elsewhere:
        agent = await register_agent(client, operator, agent_peer.url, api_key=key)
        moved = (
            await client.data(
                UPDATE_AGENT,
                {"input": {"agentId": agent["id"], "healthCheckUrl": elsewhere.health_url}},
                token=operator.token,
            )
        )["updateAgent"]
        assert moved["errors"] == []
        checked = (await client.data(CHECK_HEALTH, {"input": {"agentId": agent["id"]}}, token=operator.token))[
            "checkAgentHealth"
        ]
        assert checked["agent"]["healthStatus"] == "HEALTHY"
        assert elsewhere.state.requests == 1 and not elsewhere.state.saw(key)

        # On the endpoint's own origin the health URL does get the key.
        await client.data(
            UPDATE_AGENT,
            {"input": {"agentId": agent["id"], "healthCheckUrl": agent_peer.health_url}},
            token=operator.token,
        )
        before = len(agent_peer.state.headers)
        await client.data(CHECK_HEALTH, {"input": {"agentId": agent["id"]}}, token=operator.token)
        assert any(headers.get("x-api-key") == key for headers in agent_peer.state.headers[before:])
    assert not elsewhere.state.saw(key)


async def test_moving_the_endpoint_to_another_origin_needs_the_key_again(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp
) -> None:
    key = new_key()
    async with mcp_peer(api_key=key) as agent_peer, mcp_peer() as elsewhere:
        agent = await register_agent(client, operator, agent_peer.url, api_key=key)
        stored = await configuration(pg, agent["id"])

        refused = (
            await client.data(
                UPDATE_AGENT,
                {"input": {"agentId": agent["id"], "endpoint": elsewhere.url, "description": "moved"}},
                token=operator.token,
            )
        )["updateAgent"]
        assert error_codes(refused) == [("input.configuration.authentication.apiKey", "REQUIRED")]
        assert refused["agent"] is None
        assert elsewhere.state.requests == 0  # nothing was sent there
        row = await pg.fetchrow(
            "SELECT endpoint, description FROM mcp_agents WHERE id = $1", decode_global_id(agent["id"])[1]
        )
        assert (row["endpoint"], row["description"]) == (agent_peer.url, "A test peer")
        assert await configuration(pg, agent["id"]) == stored

        # The same host on another port, or under another name, is another origin too.
        port = agent_peer.url.split(":")[2].split("/")[0]
        for endpoint in (f"http://localhost:{port}/mcp",):
            again = (
                await client.data(
                    UPDATE_AGENT, {"input": {"agentId": agent["id"], "endpoint": endpoint}}, token=operator.token
                )
            )["updateAgent"]
            assert error_codes(again) == [("input.configuration.authentication.apiKey", "REQUIRED")]

        # With the key given again the move goes through, and the new origin gets that key only.
        other_key = new_key()
        moved = (
            await client.data(
                UPDATE_AGENT,
                {
                    "input": {
                        "agentId": agent["id"],
                        "endpoint": elsewhere.url,
                        "configuration": {
                            "authentication": {"type": "APIKEY", "apiKey": other_key, "header": "X-API-Key"}
                        },
                    }
                },
                token=operator.token,
            )
        )["updateAgent"]
        assert moved["errors"] == [] and moved["agent"]["endpoint"] == elsewhere.url
        assert elsewhere.state.saw(other_key) and not elsewhere.state.saw(key)

        # Dropping authentication also allows a move, and sends no key at all.
        back = (
            await client.data(
                UPDATE_AGENT,
                {
                    "input": {
                        "agentId": agent["id"],
                        "endpoint": agent_peer.url,
                        "configuration": {"authentication": {"type": "NONE"}},
                    }
                },
                token=operator.token,
            )
        )["updateAgent"]
        assert error_codes(back) == [("input.endpoint", "UNREACHABLE")]  # the peer wants its key
    assert not elsewhere.state.saw(key)


async def test_a_ciphertext_opens_only_for_its_agent_and_origin(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp
) -> None:
    key = new_key()
    async with mcp_peer(api_key=key) as agent_peer, mcp_peer() as plain:
        owner = await register_agent(client, operator, agent_peer.url, api_key=key)
        thief = await register_agent(client, operator, plain.url)
        # Copy the owner's sealed key to another agent pointed at the same origin, as a database write could.
        await pg.execute(
            "UPDATE mcp_agents SET configuration = (SELECT configuration FROM mcp_agents WHERE id = $1),"
            " endpoint = $2 WHERE id = $3",
            decode_global_id(owner["id"])[1],
            agent_peer.url,
            decode_global_id(thief["id"])[1],
        )
        before = len(agent_peer.state.headers)
        refreshed = (await client.data(REFRESH_AGENT, {"input": {"agentId": thief["id"]}}, token=operator.token))[
            "refreshAgentCapabilities"
        ]
        assert error_codes(refreshed) == [("input.configuration.authentication.apiKey", "INVALID_STATE")]

        # The owner's own ciphertext, kept while its endpoint moved to another origin behind the
        # gateway's back (same server, another host name), does not open either.
        port = agent_peer.url.split(":")[2].split("/")[0]
        await pg.execute(
            "UPDATE mcp_agents SET endpoint = $1 WHERE id = $2",
            f"http://localhost:{port}/mcp",
            decode_global_id(owner["id"])[1],
        )
        moved = (await client.data(REFRESH_AGENT, {"input": {"agentId": owner["id"]}}, token=operator.token))[
            "refreshAgentCapabilities"
        ]
        assert error_codes(moved) == [("input.configuration.authentication.apiKey", "INVALID_STATE")]
        checked = (await client.data(CHECK_HEALTH, {"input": {"agentId": owner["id"]}}, token=operator.token))[
            "checkAgentHealth"
        ]
        assert checked["errors"] == [] and checked["agent"]["lastHealthCheck"] is not None
        assert len(agent_peer.state.headers) == before  # nothing was sent at all


async def test_keys_stored_before_origin_binding_keep_working_and_are_sealed_again(
    client: GraphQLClient, pg: asyncpg.Connection, resources: Resources, operator: SignedUp
) -> None:
    key = new_key()
    async with mcp_peer(api_key=key) as agent_peer:
        agent = await register_agent(client, operator, agent_peer.url, api_key=key)
        legacy = {
            "timeout": 5000,
            "retries": 0,
            "authentication": {
                "type": "apikey",
                "config": {"header": "X-API-Key", "secret": resources.box.encrypt(key, context="agent")},
            },
        }
        await pg.execute(
            "UPDATE mcp_agents SET configuration = $1::jsonb WHERE id = $2",
            json.dumps(legacy),
            decode_global_id(agent["id"])[1],
        )
        refreshed = (await client.data(REFRESH_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token))[
            "refreshAgentCapabilities"
        ]
        assert refreshed["errors"] == []  # read as before: the key reached the peer's check

        checked = (await client.data(CHECK_HEALTH, {"input": {"agentId": agent["id"]}}, token=operator.token))[
            "checkAgentHealth"
        ]
        assert checked["agent"]["healthStatus"] == "HEALTHY"
        sealed = (await configuration(pg, agent["id"]))["authentication"]["config"]
        assert sealed["origin"] == "http://127.0.0.1:" + agent_peer.url.split(":")[2].split("/")[0]
        assert sealed["secret"] != legacy["authentication"]["config"]["secret"] and key not in sealed["secret"]
        again = (await client.data(REFRESH_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token))[
            "refreshAgentCapabilities"
        ]
        assert again["errors"] == []
