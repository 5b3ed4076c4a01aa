"""Several compiled root fields of one operation (graph/compiled/batch.py): one statement for all of them,
the answers of the resolver path (random multi-root selections), and a field whose statement fails takes
only itself down."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.resources import Resources
from tests.graph.compiled_world import World, multi_root_queries, of_kind, seed
from tests.graph.selections import both
from tests.graphql_client import GraphQLClient, SignedUp, StatementCounter


@pytest.fixture
async def world(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> World:
    return await seed(client, pg, user)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
async def test_several_compiled_root_fields_answer_as_the_resolvers_do(
    client: GraphQLClient, resources: Resources, world: World, data: st.DataObject
) -> None:
    query = data.draw(multi_root_queries(world), label="query")  # type: ignore[no-untyped-call]
    token = data.draw(st.sampled_from([world.user.token, world.other.token]), label="viewer")
    compiled, resolved = await both(client, resources, query, token)
    assert compiled == resolved, query


async def test_compiled_root_fields_are_one_statement(
    client: GraphQLClient, resources: Resources, world: World, sql_counter: StatementCounter
) -> None:
    tasks, agents = of_kind(world, "Task"), of_kind(world, "MCPAgent")
    integrations, sessions = of_kind(world, "Integration"), of_kind(world, "ChatSession")
    query = f"""query($t: ID!, $s: ID!) {{ viewer {{ id tasks(first: 3) {{ totalCount nodes {{ id status }} }} }}
      a: node(id: $t) {{ id ... on Task {{ status agent {{ name }} }} }}
      b: node(id: "{agents[0]}") {{ id ... on MCPAgent {{ name }} }}
      c: nodes(ids: {json.dumps([integrations[0], tasks[1], sessions[1]])}) {{ __typename id }}
      d: node(id: $s) {{ ... on ChatSession {{ title }} }} }}"""
    variables = {"t": tasks[0], "s": sessions[0]}
    for _ in range(2):  # planned, then kept
        sql_counter.reset()
        body = await client.execute(query, variables, token=world.user.token)
        assert sql_counter.count == 1, sql_counter.statements
    data = body["data"]
    assert data["a"]["id"] == tasks[0] and data["a"]["agent"]["name"].startswith("Alpha")
    assert data["b"]["name"].startswith("Alpha")
    integration, task = {"__typename": "Integration", "id": integrations[0]}, {"__typename": "Task", "id": tasks[1]}
    assert data["c"] == [integration, task, None]  # the deleted session: null
    assert data["d"] == {"title": "Live"}
    assert len(data["viewer"]["tasks"]["nodes"]) == 3
    literal = query.replace("query($t: ID!, $s: ID!) ", "")
    literal = literal.replace("$t", f'"{tasks[0]}"').replace("$s", f'"{sessions[0]}"')
    assert (await both(client, resources, literal, world.user.token))[1] == body

    # `agents` needs the account check first (its own statement); every compiled field then shares one.
    sql_counter.reset()
    body = await client.execute(f"{{ agents(first: 2) {{ nodes {{ name }} }} {literal[2:]}", token=world.user.token)
    assert sql_counter.count == 2, sql_counter.statements
    assert body["data"]["a"] == data["a"] and len(body["data"]["agents"]["nodes"]) == 2


async def test_a_root_field_whose_statement_fails_takes_only_itself_down(
    client: GraphQLClient, world: World, pg: asyncpg.Connection, database_url: str
) -> None:
    """The agents' table is locked (as a migration would) and every statement waiting for it is
    cancelled (as `pg_cancel_backend` or a lock timeout would): the agent's field is an error, the
    session's field beside it is answered."""
    agents, sessions = of_kind(world, "MCPAgent"), of_kind(world, "ChatSession")
    query = f"""{{ s: node(id: "{sessions[0]}") {{ ... on ChatSession {{ title }} }}
      m: node(id: "{agents[0]}") {{ ... on MCPAgent {{ name }} }} }}"""
    cancelled = 0
    async with pg.transaction():
        await pg.execute("LOCK TABLE mcp_agents IN ACCESS EXCLUSIVE MODE")
        request = asyncio.ensure_future(client.execute(query, token=world.user.token))
        async with asyncio.timeout(30):
            while not request.done():
                waiting = await pg.fetch(
                    """SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                       AND datname = current_database() AND pid <> pg_backend_pid()"""
                )
                for row in waiting:
                    cancelled += await pg.fetchval("SELECT pg_cancel_backend($1)", row["pid"])
                await asyncio.sleep(0.02)
    body = request.result()
    assert cancelled >= 1
    assert body["data"] == {"s": {"title": "Live"}, "m": None}
    assert [error["path"] for error in body["errors"]] == [["m"]]
    assert "canceling statement" not in json.dumps(body)  # masked: no driver text reaches the client
