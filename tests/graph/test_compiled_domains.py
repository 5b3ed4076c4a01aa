"""Whole-selection SQL (graph/compiled/) for documents, tasks, integrations and agents: the compiled path
answers exactly what the resolver path answers (`GATEWAY_SQL_COMPILER` off), for random selections, on data
with two users, deleted documents, integrations, agents and sessions, hidden tasks, ties in every order,
non-ASCII text keys, empty pages, cursors at both ends and refused arguments; and the reads cost one
statement for all the compiled root fields of an operation."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.resources import Resources
from tests.graph.compiled_world import World, node_queries, of_kind, queries, seed
from tests.graph.selections import both
from tests.graphql_client import GraphQLClient, SignedUp, StatementCounter


@pytest.fixture
async def world(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> World:
    return await seed(client, pg, user)


RANDOM = hypothesis_settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


async def same_answers(
    client: GraphQLClient, resources: Resources, world: World, data: st.DataObject, query: str
) -> None:
    """The query as a random one of the two users: the compiled answer is the resolvers' answer."""
    token = data.draw(st.sampled_from([world.user.token, world.other.token]), label="viewer")
    compiled, resolved = await both(client, resources, query, token)
    assert compiled == resolved, query


@RANDOM
@given(data=st.data())
async def test_compiled_lists_answer_as_the_resolvers_do(
    client: GraphQLClient, resources: Resources, world: World, data: st.DataObject
) -> None:
    await same_answers(client, resources, world, data, data.draw(queries(world), label="query"))


@RANDOM
@given(data=st.data())
async def test_compiled_nodes_of_every_type_answer_as_the_resolvers_do(
    client: GraphQLClient, resources: Resources, world: World, data: st.DataObject
) -> None:
    await same_answers(client, resources, world, data, data.draw(node_queries(world), label="query"))


HEADLINE = """{ viewer { documents(first: 50) { edges { node { id filename tags } } }
  tasks(first: 20) { edges { node { id status agent { name } session { title } } } } } }"""


async def test_lists_with_their_relations_are_one_statement_per_root_field(
    client: GraphQLClient, resources: Resources, world: World, sql_counter: StatementCounter
) -> None:
    sql_counter.reset()
    body = await client.execute(HEADLINE, token=world.user.token)
    assert sql_counter.count == 1, sql_counter.statements
    viewer = body["data"]["viewer"]
    names = [edge["node"]["filename"] for edge in viewer["documents"]["edges"]]
    assert names[0] == "zz.pdf"  # the newest; the deleted document is left out
    assert sorted(names) == ["a.pdf", "b.txt", "invoice.pdf", "zz.pdf", "Éclair.docx"]
    tasks = [edge["node"] for edge in viewer["tasks"]["edges"]]
    assert len(tasks) == 6  # the hidden task is left out
    suffix = world.user.pk.hex[:8]
    assert {(task["agent"] or {}).get("name") for task in tasks} == {f"Alpha {suffix}", f'Émile "q" ✓ {suffix}', None}
    assert {(task["session"] or {}).get("title") for task in tasks} == {"Live", None}  # the deleted session: null
    assert (await both(client, resources, HEADLINE, world.user.token))[1] == body

    agents = "{ agents(first: 10) { totalCount edges { cursor node { id name tasks(first: 5) { nodes { id } } } } } }"
    sql_counter.reset()
    body = await client.execute(agents, token=world.user.token)
    # The account check (its own statement, before a root field other than `viewer`/`node`), then the list.
    assert sql_counter.count == 2, sql_counter.statements
    assert (await both(client, resources, agents, world.user.token))[1] == body


async def test_nodes_of_tasks_integrations_and_agents_are_one_statement(
    client: GraphQLClient, resources: Resources, world: World, sql_counter: StatementCounter
) -> None:
    """By id, a hidden task is still readable; another user's task or integration, a disconnected
    integration and a deleted agent are null, as their loaders by id answer."""
    tasks, integrations, agents = (of_kind(world, kind) for kind in ("Task", "Integration", "MCPAgent"))
    ids = json.dumps([*tasks, *integrations, *agents])
    query = f"""{{ nodes(ids: {ids}) {{ __typename id ... on Task {{ status agent {{ name }} session {{ title }} }}
      ... on Integration {{ provider scopes capabilities }} ... on MCPAgent {{ name healthStatus }} }} }}"""
    sql_counter.reset()
    body = await client.execute(query, token=world.user.token)
    assert sql_counter.count == 1, sql_counter.statements
    nodes = body["data"]["nodes"]
    found = {node["id"]: node for node in nodes if node is not None}
    # Of the tasks, the last ID names no row and the one before it is the other user's (before them: the
    # hidden task); the last integration is the other user's, the one before it disconnected; the last
    # agent is deleted.
    assert set(found) == {*tasks[:-2], *integrations[:2], *agents[:2]}
    assert found[integrations[0]]["capabilities"] == ["mail", "é"]
    assert found[integrations[0]]["scopes"] == ["read"]
    assert (await both(client, resources, query, world.user.token))[1] == body

    listed = "{ viewer { integrations { totalCount nodes { id provider status scopes deletedAt } } } }"
    sql_counter.reset()
    body = await client.execute(listed, token=world.user.token)
    assert sql_counter.count == 1, sql_counter.statements
    assert [node["provider"] for node in body["data"]["viewer"]["integrations"]["nodes"]] == ["GMAIL", "HUBSPOT"]
    assert (await both(client, resources, listed, world.user.token))[1] == body


async def test_a_document_by_id_stays_with_its_cache(
    client: GraphQLClient, resources: Resources, world: World, sql_counter: StatementCounter
) -> None:
    """`node(id:)` of a document is answered from the Redis metadata cache by its resolver, not compiled."""
    document = of_kind(world, "Document")[0]
    query = f'{{ node(id: "{document}") {{ ... on Document {{ filename tags }} }} }}'
    compiled, resolved = await both(client, resources, query, world.user.token)
    assert compiled == resolved == {"data": {"node": {"filename": "invoice.pdf", "tags": ["tax", "2026"]}}}
    sql_counter.reset()
    await client.execute(query, token=world.user.token)
    assert not [statement for statement in sql_counter.statements if "FROM documents" in statement]


async def test_nodes_mixing_documents_compile_the_rest(
    client: GraphQLClient, resources: Resources, world: World, sql_counter: StatementCounter
) -> None:
    """`nodes(ids:)` with documents among other types: the documents come from their resolver (the Redis
    metadata cache), every other ID from one compiled statement, in the order asked."""
    documents, tasks = of_kind(world, "Document"), of_kind(world, "Task")
    agents, sessions = of_kind(world, "MCPAgent"), of_kind(world, "ChatSession")
    ids = [documents[0], tasks[0], sessions[0], documents[0], agents[0], documents[-1], sessions[1], documents[1]]
    query = f"""{{ nodes(ids: {json.dumps(ids)}) {{ __typename id ... on Document {{ filename tags }}
      ... on Task {{ status }} ... on ChatSession {{ title }} ... on MCPAgent {{ name }} }} }}"""
    compiled, resolved = await both(client, resources, query, world.user.token)
    assert compiled == resolved
    names = [(node or {}).get("filename") or (node or {}).get("title") for node in compiled["data"]["nodes"]]
    assert names == ["invoice.pdf", None, "Live", "invoice.pdf", None, None, None, "Éclair.docx"]
    assert [node and node["__typename"] for node in compiled["data"]["nodes"]] == [
        "Document",
        "Task",
        "ChatSession",
        "Document",
        "MCPAgent",
        None,
        None,
        "Document",
    ]  # the other user's document and the deleted session: null
    # Without the other user's document (not cached: each time its resolver looks it up and finds nothing):
    # the account check (before the documents' resolver), then one statement for the tasks, sessions and
    # agents; the documents' metadata is cached.
    query = query.replace(f'"{documents[-1]}", ', "")
    sql_counter.reset()
    body = await client.execute(query, token=world.user.token)
    assert body["data"]["nodes"] == [node for index, node in enumerate(compiled["data"]["nodes"]) if index != 5]
    assert sql_counter.count == 2, sql_counter.statements
    assert not [statement for statement in sql_counter.statements if "FROM documents" in statement]


async def test_a_deleted_accounts_token_reads_nothing(
    client: GraphQLClient, resources: Resources, world: World, pg: asyncpg.Connection
) -> None:
    tasks, agents = of_kind(world, "Task"), of_kind(world, "MCPAgent")
    query = f"""{{ viewer {{ documents {{ totalCount }} tasks {{ nodes {{ id agent {{ name }} }} }} }}
      agents {{ totalCount nodes {{ name tasks {{ totalCount }} }} }}
      nodes(ids: {json.dumps([tasks[0], agents[0]])}) {{ id }} }}"""
    alive, _ = await both(client, resources, query, world.user.token)
    assert alive["data"]["viewer"]["documents"]["totalCount"] == 5
    assert alive["data"]["nodes"] == [{"id": tasks[0]}, {"id": agents[0]}]
    await pg.execute("UPDATE users SET deleted_at = now() WHERE id = $1", world.user.pk)
    compiled, resolved = await both(client, resources, query, world.user.token)
    assert compiled == resolved == {"data": {"viewer": None, "agents": None, "nodes": [None, None]}}


async def test_a_kept_statement_binds_each_viewer(
    client: GraphQLClient, resources: Resources, world: World, sql_counter: StatementCounter
) -> None:
    """Statements are kept per selection (graph/compiled/cache.py); the rules naming the viewer (an agent's
    tasks are the viewer's own) take each request's viewer, never the first one's."""
    query = """query($n: Int) { agents(first: $n) { nodes { name
      tasks(first: 10) { totalCount nodes { id session { title } } } } } }"""
    answers = {}
    for name, signed in (("user", world.user), ("other", world.other), ("again", world.user)):
        literal = query.replace("query($n: Int) ", "").replace("$n", "100").replace("\n", " ")
        compiled, resolved = await both(client, resources, literal, signed.token)
        assert compiled == resolved
        answers[name] = compiled
        sql_counter.reset()
        data = await client.data(query, {"n": 100}, token=signed.token)
        assert data == answers[name]["data"]
        assert len(sql_counter.statements) == 2, sql_counter.statements  # the account check, then the list
    suffix = world.user.pk.hex[:8]

    def alpha(answer: dict[str, Any]) -> dict[str, Any]:
        return next(node for node in answer["data"]["agents"]["nodes"] if node["name"] == f"Alpha {suffix}")

    assert alpha(answers["user"])["tasks"]["totalCount"] == 3  # the hidden task is left out
    assert alpha(answers["other"])["tasks"] == {
        "totalCount": 1,
        "nodes": [{"id": of_kind(world, "Task")[-2], "session": {"title": "Theirs"}}],
    }
    assert answers["again"] == answers["user"]
