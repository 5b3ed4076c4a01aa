"""The agent registry: operators only, validated input, SSRF-checked URLs, API keys encrypted at rest and
never returned, discovery before anything is stored."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from graph.app import create_app
from services.egress import EgressPolicy
from services.resources import Resources
from tests.agents.flows import (
    ACTIVATE_AGENT,
    AGENT_NODE,
    AGENTS,
    CHECK_HEALTH,
    DEACTIVATE_AGENT,
    DELETE_AGENT,
    REFRESH_AGENT,
    REGISTER_AGENT,
    RESTORE_AGENT,
    UPDATE_AGENT,
    agent_input,
    error_codes,
    register_agent,
    request_error,
    unique_name,
)
from tests.agents.mcp_peer import RunningPeer, free_port, mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp


@pytest.fixture
async def peer() -> AsyncIterator[RunningPeer]:
    async with mcp_peer() as running:
        yield running


def app_with_policy(resources: Resources, *, allow_loopback: bool):
    settings = resources.settings.model_copy(update={"allow_loopback_agents": allow_loopback})
    return create_app(
        dataclasses.replace(resources, settings=settings, policy=EgressPolicy(allow_loopback=allow_loopback))
    )


@pytest.fixture(scope="module")
def strict_app(resources: Resources):
    """The gateway as configured with GATEWAY_ALLOW_LOOPBACK_AGENTS=false (as in production)."""
    return app_with_policy(resources, allow_loopback=False)


@pytest.fixture
async def strict_client(strict_app) -> AsyncIterator[GraphQLClient]:
    async with GraphQLClient.over_asgi(strict_app) as connected:
        yield connected


async def rows_named(pg: asyncpg.Connection, name: str) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM mcp_agents WHERE name = $1", name))


async def register(client: GraphQLClient, token: str | None, fields: dict) -> dict:
    return (await client.data(REGISTER_AGENT, {"input": fields}, token=token))["registerAgent"]


# --- who may change the registry ---------------------------------------------------------------------


async def test_only_operators_change_the_registry(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, operator: SignedUp, peer: RunningPeer
) -> None:
    name = unique_name()
    fields = agent_input(peer.url, name=name)
    assert request_error(await client.execute(REGISTER_AGENT, {"input": fields}, token=user.token)) == "FORBIDDEN"
    assert request_error(await client.execute(REGISTER_AGENT, {"input": fields})) == "UNAUTHENTICATED"
    assert await rows_named(pg, name) == 0
    assert peer.state.requests == 0  # a refused caller does not even make the gateway call the agent

    agent = await register_agent(client, operator, peer.url, name=name)
    ids = {"agentId": agent["id"]}
    for document, extra in (
        (UPDATE_AGENT, {"description": "changed"}),
        (REFRESH_AGENT, {}),
        (CHECK_HEALTH, {}),
        (DELETE_AGENT, {}),
    ):
        variables = {"input": {**ids, **extra}}
        assert request_error(await client.execute(document, variables, token=user.token)) == "FORBIDDEN"
        assert request_error(await client.execute(document, variables)) == "UNAUTHENTICATED"
    row = await pg.fetchrow("SELECT description, deleted_at, last_health_check FROM mcp_agents WHERE name = $1", name)
    assert row["description"] == "A test peer" and row["deleted_at"] is None and row["last_health_check"] is None

    # Agents are shared: every signed-in user reads them.
    listed = (await client.data(AGENTS, token=user.token))["agents"]["edges"]
    assert name in [edge["node"]["name"] for edge in listed]
    assert (await client.data(AGENTS))["agents"] is None


# --- input rules ---------------------------------------------------------------------------------------


async def test_names_are_unique_bounded_and_plain(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp, peer: RunningPeer
) -> None:
    name = unique_name()
    await register_agent(client, operator, peer.url, name=name)
    duplicate = await register(client, operator.token, agent_input(peer.url, name=name))
    assert error_codes(duplicate) == [("input.name", "ALREADY_EXISTS")] and duplicate["agent"] is None
    assert await rows_named(pg, name) == 1

    for bad, code in (
        ("", "REQUIRED"),
        ("x" * 101, "TOO_LONG"),
        ("bad name!", "INVALID"),
        ("-dash", "INVALID"),
        ("ünïcode", "INVALID"),
    ):
        payload = await register(client, operator.token, agent_input(peer.url, name=bad))
        assert error_codes(payload) == [("input.name", code)], (bad, payload)
        assert await rows_named(pg, bad) == 0
    longest = "n" * 100
    await pg.execute("DELETE FROM mcp_agents WHERE name = $1", longest)
    assert (await register(client, operator.token, agent_input(peer.url, name=longest)))["errors"] == []

    # Renaming onto a taken name is refused too.
    other = await register_agent(client, operator, peer.url)
    renamed = (
        await client.data(UPDATE_AGENT, {"input": {"agentId": other["id"], "name": name}}, token=operator.token)
    )["updateAgent"]
    assert error_codes(renamed) == [("input.name", "ALREADY_EXISTS")]


async def test_configuration_ranges_are_checked_together(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp, peer: RunningPeer
) -> None:
    name = unique_name()
    fields = agent_input(peer.url, name=name, timeout=99, retries=11, rateLimit={"requests": 0, "window": 86_401})
    payload = await register(client, operator.token, fields)
    assert sorted(error_codes(payload)) == [
        ("input.configuration.rateLimit.requests", "INVALID"),
        ("input.configuration.rateLimit.window", "INVALID"),
        ("input.configuration.retries", "INVALID"),
        ("input.configuration.timeout", "INVALID"),
    ]
    for bad in (
        {"timeout": 300_001},
        {"retries": -1},
        {"rateLimit": {"requests": 1, "window": 0}},
        {"rateLimit": {"requests": 100_001, "window": 1}},
    ):
        payload = await register(client, operator.token, agent_input(peer.url, name=name, **bad))
        assert payload["agent"] is None and len(payload["errors"]) == 1, (bad, payload)
    assert await rows_named(pg, name) == 0
    assert peer.state.requests == 0  # nothing invalid reaches the agent

    edges = await register_agent(
        client, operator, peer.url, timeout=100, retries=10, rateLimit={"requests": 100_000, "window": 86_400}
    )
    assert edges["configuration"] == {
        "timeout": 100,
        "retries": 10,
        "rateLimit": {"requests": 100_000, "window": 86_400},
        "authentication": {"type": "NONE"},
    }
    defaults = (await register(client, operator.token, {"name": unique_name(), "endpoint": peer.url}))["agent"]
    assert defaults["configuration"]["timeout"] == 30_000 and defaults["configuration"]["retries"] == 0

    updated = (
        await client.data(
            UPDATE_AGENT, {"input": {"agentId": edges["id"], "configuration": {"timeout": 50}}}, token=operator.token
        )
    )["updateAgent"]
    assert error_codes(updated) == [("input.configuration.timeout", "INVALID")]


async def test_an_api_key_is_required_for_apikey_authentication(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp, peer: RunningPeer
) -> None:
    name = unique_name()
    fields = agent_input(peer.url, name=name)
    fields["configuration"]["authentication"] = {"type": "APIKEY"}
    payload = await register(client, operator.token, fields)
    assert error_codes(payload) == [("input.configuration.authentication.apiKey", "REQUIRED")]
    assert await rows_named(pg, name) == 0


# --- server-side request forgery ----------------------------------------------------------------------

REFUSED_ALWAYS = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://[fe80::1]/mcp",  # IPv6 link-local
    "http://[::ffff:169.254.169.254]/mcp",  # metadata behind an IPv4-mapped IPv6 address
    "http://2852039166/mcp",  # 169.254.169.254 spelt as one number
    "http://10.0.0.5/mcp",  # private
    "http://172.16.3.4/mcp",  # private
    "http://192.168.1.10:8080/mcp",  # private
    "http://[fd00::1]/mcp",  # IPv6 unique local
    "http://0.0.0.0:8000/mcp",  # unspecified
    "http://224.0.0.1/mcp",  # multicast
    "file:///etc/passwd",
    "http://user:secret@example.com/mcp",
    "http://no-such-host.invalid/mcp",
]


async def test_unsafe_endpoints_and_health_urls_are_refused(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp, peer: RunningPeer
) -> None:
    for url in REFUSED_ALWAYS:
        name = unique_name()
        payload = await register(client, operator.token, agent_input(url, name=name))
        assert error_codes(payload) == [("input.endpoint", "UNSAFE_URL")], (url, payload)
        fields = {**agent_input(peer.url, name=name), "healthCheckUrl": url}
        payload = await register(client, operator.token, fields)
        assert error_codes(payload) == [("input.healthCheckUrl", "UNSAFE_URL")], (url, payload)
        assert await rows_named(pg, name) == 0
    assert peer.state.requests == 0

    agent = await register_agent(client, operator, peer.url)
    for field in ("endpoint", "healthCheckUrl"):
        payload = (
            await client.data(
                UPDATE_AGENT,
                {"input": {"agentId": agent["id"], field: "http://169.254.169.254/mcp"}},
                token=operator.token,
            )
        )["updateAgent"]
        assert error_codes(payload) == [(f"input.{field}", "UNSAFE_URL")]
    stored = await pg.fetchrow("SELECT endpoint, health_check_url FROM mcp_agents WHERE name = $1", agent["name"])
    assert stored["endpoint"] == peer.url and stored["health_check_url"] is None


async def test_loopback_agents_follow_the_setting(
    client: GraphQLClient, strict_client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp, peer: RunningPeer
) -> None:
    port = peer.url.split(":")[2].split("/")[0]
    for url in (peer.url, f"http://localhost:{port}/mcp", f"http://[::1]:{port}/mcp", f"http://127.9.9.9:{port}/mcp"):
        name = unique_name()
        payload = await register(strict_client, operator.token, agent_input(url, name=name))
        assert error_codes(payload) == [("input.endpoint", "UNSAFE_URL")], (url, payload)
        assert await rows_named(pg, name) == 0
    assert peer.state.requests == 0

    # Allowed (development and tests): the same peer registers.
    allowed = await register_agent(client, operator, f"http://localhost:{port}/mcp")
    assert {tool["name"] for tool in allowed["capabilities"]} == {"add", "sleep", "flaky", "broken"}


async def test_the_guard_refuses_on_every_connection_not_only_at_registration(
    client: GraphQLClient, strict_client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp, peer: RunningPeer
) -> None:
    # Registered while the name was acceptable; later connections resolve `localhost` again and are
    # checked against the address it resolves to now (here: loopback, refused by this configuration).
    port = peer.url.split(":")[2].split("/")[0]
    agent = await register_agent(client, operator, f"http://localhost:{port}/mcp")
    before = peer.state.requests
    assert before > 0

    refreshed = (await strict_client.data(REFRESH_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token))[
        "refreshAgentCapabilities"
    ]
    assert error_codes(refreshed) == [("input.endpoint", "UNREACHABLE")]
    assert "refused" in refreshed["errors"][0]["message"]
    for _ in range(3):
        checked = (await strict_client.data(CHECK_HEALTH, {"input": {"agentId": agent["id"]}}, token=operator.token))[
            "checkAgentHealth"
        ]
        assert checked["errors"] == []
    assert checked["agent"]["healthStatus"] == "UNHEALTHY"
    assert peer.state.requests == before  # not one byte reached the agent

    # Same for a stored endpoint that was never checked (written behind the API's back).
    await pg.execute("UPDATE mcp_agents SET endpoint = 'http://169.254.169.254/mcp' WHERE name = $1", agent["name"])
    refreshed = (await client.data(REFRESH_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token))[
        "refreshAgentCapabilities"
    ]
    assert error_codes(refreshed) == [("input.endpoint", "UNREACHABLE")]
    assert "refused" in refreshed["errors"][0]["message"]


# --- API keys -------------------------------------------------------------------------------------------


async def test_the_api_key_is_sent_encrypted_at_rest_and_never_returned(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp
) -> None:
    key = f"key-{uuid.uuid4().hex}"
    async with mcp_peer(api_key=key) as peer:
        name = unique_name()
        # The peer refuses a wrong key, and a right key in the wrong header: nothing is stored.
        for fields in (
            agent_input(peer.url, name=name, api_key="wrong-key"),
            agent_input(peer.url, name=name, api_key=key, header="Authorization"),
            agent_input(peer.url, name=name),
        ):
            payload = await register(client, operator.token, fields)
            assert error_codes(payload) == [("input.endpoint", "UNREACHABLE")], payload
            assert await rows_named(pg, name) == 0

        response = await client.post(
            REGISTER_AGENT, {"input": agent_input(peer.url, name=name, api_key=key)}, token=operator.token
        )
        body = response.json()
        assert body["data"]["registerAgent"]["errors"] == []
        agent = body["data"]["registerAgent"]["agent"]
        assert agent["configuration"]["authentication"] == {"type": "APIKEY"}
        assert {tool["name"] for tool in agent["capabilities"]} == {"add", "sleep", "flaky", "broken"}
        assert key not in response.text

        stored = await pg.fetchval("SELECT configuration::text FROM mcp_agents WHERE name = $1", name)
        assert key not in stored
        secret = json.loads(stored)["authentication"]["config"]["secret"]
        assert secret and key not in secret

        # Later connections decrypt it: refresh and health both get through the peer's key check.
        refreshed = (await client.data(REFRESH_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token))[
            "refreshAgentCapabilities"
        ]
        assert refreshed["errors"] == []
        # An update that leaves authentication alone keeps the key.
        response = await client.post(
            UPDATE_AGENT,
            {"input": {"agentId": agent["id"], "description": "new", "endpoint": peer.url}},
            token=operator.token,
        )
        assert response.json()["data"]["updateAgent"]["errors"] == [] and key not in response.text
        checked = (await client.data(CHECK_HEALTH, {"input": {"agentId": agent["id"]}}, token=operator.token))[
            "checkAgentHealth"
        ]
        assert checked["agent"]["healthStatus"] == "HEALTHY"
        for document in (AGENT_NODE,):
            response = await client.post(document, {"id": agent["id"]}, token=operator.token)
            assert response.json()["data"]["node"]["name"] == name and key not in response.text
        response = await client.post(AGENTS, token=operator.token)
        assert key not in response.text

        # A new key replaces the old one (encrypted again).
        new_key = f"key-{uuid.uuid4().hex}"
        changed = (
            await client.data(
                UPDATE_AGENT,
                {
                    "input": {
                        "agentId": agent["id"],
                        "configuration": {
                            "authentication": {"type": "APIKEY", "apiKey": new_key, "header": "X-API-Key"}
                        },
                    }
                },
                token=operator.token,
            )
        )["updateAgent"]
        assert error_codes(changed) == [("input.endpoint", "UNREACHABLE")]  # the peer wants the old one
        assert key not in (await pg.fetchval("SELECT configuration::text FROM mcp_agents WHERE name = $1", name))


# --- discovery before storing --------------------------------------------------------------------------


async def test_an_unreachable_endpoint_is_a_typed_error_and_stores_nothing(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp, peer: RunningPeer
) -> None:
    down = f"http://127.0.0.1:{free_port()}/mcp"
    not_mcp = peer.health_url  # answers HTTP, but not as an MCP server
    for url in (down, not_mcp):
        name = unique_name()
        payload = await register(client, operator.token, agent_input(url, name=name, timeout=2000))
        assert error_codes(payload) == [("input.endpoint", "UNREACHABLE")], payload
        assert payload["agent"] is None
        assert await rows_named(pg, name) == 0

    agent = await register_agent(client, operator, peer.url)
    moved = (
        await client.data(UPDATE_AGENT, {"input": {"agentId": agent["id"], "endpoint": down}}, token=operator.token)
    )["updateAgent"]
    assert error_codes(moved) == [("input.endpoint", "UNREACHABLE")]
    assert await pg.fetchval("SELECT endpoint FROM mcp_agents WHERE name = $1", agent["name"]) == peer.url


async def test_update_and_soft_delete(
    client: GraphQLClient, pg: asyncpg.Connection, operator: SignedUp, user: SignedUp, peer: RunningPeer, redis_url: str
) -> None:
    from redis.asyncio import Redis

    agent = await register_agent(client, operator, peer.url, rateLimit={"requests": 5, "window": 60})
    updated = (
        await client.data(
            UPDATE_AGENT,
            {
                "input": {
                    "agentId": agent["id"],
                    "name": agent["name"] + "-v2",
                    "description": "Renamed",
                    "healthCheckUrl": peer.health_url,
                    "configuration": {"retries": 3},
                }
            },
            token=operator.token,
        )
    )["updateAgent"]
    assert updated["errors"] == []
    assert updated["agent"]["name"] == agent["name"] + "-v2"
    assert updated["agent"]["healthCheckUrl"] == peer.health_url
    assert updated["agent"]["configuration"] == {
        "timeout": 5000,
        "retries": 3,
        "rateLimit": {"requests": 5, "window": 60},
        "authentication": {"type": "NONE"},
    }

    deleted = (await client.data(DELETE_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token))[
        "deleteAgent"
    ]
    assert deleted["errors"] == []
    row = await pg.fetchrow("SELECT id, deleted_at FROM mcp_agents WHERE name = $1", agent["name"] + "-v2")
    assert row["deleted_at"] is not None  # soft: the row (and its tasks' history) stays
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.exists(f"agent:capabilities:{row['id']}") == 0
    finally:
        await redis.aclose()

    listed = (await client.data(AGENTS, token=user.token))["agents"]["edges"]
    assert agent["id"] not in [edge["node"]["id"] for edge in listed]
    for document in (DELETE_AGENT, REFRESH_AGENT, CHECK_HEALTH):
        again = next(
            iter((await client.data(document, {"input": {"agentId": agent["id"]}}, token=operator.token)).values())
        )
        assert error_codes(again) == [("input.agentId", "NOT_FOUND")]
    again = (
        await client.data(UPDATE_AGENT, {"input": {"agentId": agent["id"], "description": "x"}}, token=operator.token)
    )["updateAgent"]
    assert error_codes(again) == [("input.agentId", "NOT_FOUND")]
    # UNIQUE(name) holds for live agents: a deleted agent's name can be taken again...
    reused = await register(client, operator.token, agent_input(peer.url, name=agent["name"] + "-v2"))
    assert reused["errors"] == []
    # ...and then the deleted one cannot come back under it (a clear error, not a crash).
    refused = (await client.data(RESTORE_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token))[
        "restoreAgent"
    ]
    assert error_codes(refused) == [("input.agentId", "ALREADY_EXISTS")]
    (await client.data(DELETE_AGENT, {"input": {"agentId": reused["agent"]["id"]}}, token=operator.token))
    deleted_listed = (
        await client.data(
            "query($f: AgentFilter) { agents(filter: $f, first: 100) { edges { node { id deletedAt } } } }",
            {"f": {"deleted": True}},
            token=operator.token,
        )
    )["agents"]["edges"]
    assert agent["id"] in [edge["node"]["id"] for edge in deleted_listed]
    assert all(edge["node"]["deletedAt"] for edge in deleted_listed)
    restored = (await client.data(RESTORE_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token))[
        "restoreAgent"
    ]
    assert restored["errors"] == [] and restored["agent"]["deletedAt"] is None
    assert restored["agent"]["name"] == agent["name"] + "-v2"
    again = (await client.data(RESTORE_AGENT, {"input": {"agentId": agent["id"]}}, token=operator.token))[
        "restoreAgent"
    ]
    assert error_codes(again) == [("input.agentId", "INVALID_STATE")]
    denied = await client.execute(RESTORE_AGENT, {"input": {"agentId": agent["id"]}}, token=user.token)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_operators_take_an_agent_out_of_use_and_back(
    client: GraphQLClient, operator: SignedUp, user: SignedUp, peer: RunningPeer
) -> None:
    agent = await register_agent(client, operator, peer.url)

    async def set_state(document: str, name: str) -> dict:
        payload = await client.data(document, {"input": {"agentId": agent["id"]}}, token=operator.token)
        return payload[name]  # type: ignore[no-any-return]

    off = await set_state(DEACTIVATE_AGENT, "deactivateAgent")
    assert off["errors"] == [] and off["agent"]["status"] == "INACTIVE"
    assert error_codes(await set_state(DEACTIVATE_AGENT, "deactivateAgent")) == [("input.agentId", "INVALID_STATE")]
    run = await client.data(
        "mutation($input: RunTaskInput!) { runTask(input: $input) { errors { field code } } }",
        {"input": {"agentId": agent["id"], "taskType": "add", "input": {"a": 1, "b": 2}}},
        token=user.token,
    )
    assert [(e["field"], e["code"]) for e in run["runTask"]["errors"]] == [("input.agentId", "INVALID_STATE")]
    on = await set_state(ACTIVATE_AGENT, "activateAgent")
    assert on["errors"] == [] and on["agent"]["status"] == "ACTIVE"
    assert error_codes(await set_state(ACTIVATE_AGENT, "activateAgent")) == [("input.agentId", "INVALID_STATE")]
