"""An agent's tool list is input from outside: an agent that lists too many tools, too much text or schemas
nested too deeply is refused at discovery (registration or refresh) with a typed error, and nothing changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from mcp.types import Tool

from resolvers.agent_tools import CAPABILITIES_MAX_BYTES, TOOLS_MAX
from tests.agents.flows import REFRESH_AGENT, REGISTER_AGENT, agent_input, register_agent
from tests.agents.mcp_peer import mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp


def many_tools(tools: list[Tool]) -> list[Tool]:
    return [tools[0].model_copy(update={"name": f"tool_{n}"}) for n in range(TOOLS_MAX + 1)]


def long_descriptions(tools: list[Tool]) -> list[Tool]:
    each = CAPABILITIES_MAX_BYTES // len(tools) + 1  # together, just over what is kept
    return [tool.model_copy(update={"description": "x" * each}) for tool in tools]


def deep_schema(tools: list[Tool]) -> list[Tool]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(40):  # 80 nested objects: within what the SDK carries, beyond what the gateway keeps
        schema = {"type": "object", "properties": {"inner": schema}}
    return [tools[0].model_copy(update={"input_schema": schema}), *tools[1:]]


REFUSALS: list[tuple[Callable[[list[Tool]], list[Tool]], str, str]] = [
    (many_tools, "INVALID", f"at most {TOOLS_MAX}"),
    (long_descriptions, "TOO_LONG", "bytes"),
    (deep_schema, "INVALID", "levels deep"),
]


@pytest.mark.parametrize(("listing", "code", "says"), REFUSALS, ids=["too-many", "too-large", "too-deep"])
async def test_an_agent_listing_too_much_is_not_registered(
    client: GraphQLClient,
    operator: SignedUp,
    pg: asyncpg.Connection,
    listing: Callable[[list[Tool]], list[Tool]],
    code: str,
    says: str,
) -> None:
    async with mcp_peer() as peer:
        peer.state.listing = listing
        fields = agent_input(peer.url)
        payload = (await client.data(REGISTER_AGENT, {"input": fields}, token=operator.token))["registerAgent"]
    assert payload["agent"] is None
    [error] = payload["errors"]
    assert (error["field"], error["code"]) == ("input.endpoint", code) and says in error["message"], error
    assert await pg.fetchval("SELECT count(*) FROM mcp_agents WHERE name = $1", fields["name"]) == 0


async def test_a_refresh_that_lists_too_much_keeps_the_tools_known_before(
    client: GraphQLClient, operator: SignedUp, pg: asyncpg.Connection
) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(client, operator, peer.url)
        before = await pg.fetchval("SELECT capabilities FROM mcp_agents WHERE name = $1", agent["name"])
        peer.state.listing = many_tools
        variables = {"input": {"agentId": agent["id"]}}
        payload = (await client.data(REFRESH_AGENT, variables, token=operator.token))["refreshAgentCapabilities"]
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [("input.endpoint", "INVALID")]
    after = await pg.fetchval("SELECT capabilities FROM mcp_agents WHERE name = $1", agent["name"])
    assert json.loads(after) == json.loads(before) and len(json.loads(after)) == 4
