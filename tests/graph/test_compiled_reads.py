"""Whole-selection SQL (graph/compiled/): the compiled path answers exactly what the resolver path
answers (`GATEWAY_SQL_COMPILER` off), for random selections over the compilable part of the schema, on
data with two users, deleted and archived sessions, deleted messages and timestamps with and without
microseconds; and the headline read costs one statement."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from graph.compiled.cache import COMPILED
from services.resources import Resources
from tests import factories as f
from tests.graph.selections import both, connection, enum_list, filter_input, keyed
from tests.graphql_client import GraphQLClient, SignedUp, StatementCounter

SESSION_FIELDS = ["id", "title", "status", "messageCount", "lastActivityAt", "createdAt", "updatedAt", "deletedAt"]
MESSAGE_FIELDS = [
    "id",
    "role",
    "content",
    "timestamp",
    "seq",
    "tokenCount",
    "editedAt",
    "deletedAt",
    "session { id title status }",
]
HEADLINE = """{ viewer { chatSessions(first: 100) { edges { node { id title
  messages(first: 20) { edges { node { id role content timestamp } } } } } } } }"""


@dataclass
class Seeded:
    user: SignedUp
    other: SignedUp
    session_cursors: list[str]
    message_cursors: list[str]
    ids: list[str]  # both users' sessions and messages, deleted ones included, and IDs naming nothing


async def _seed(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> Seeded:
    other = await client.register()
    statuses = ["active", "archived", "active", "active", "archived", "active"]
    for index, status in enumerate(statuses):
        session = await f.session(pg, user.pk, title=f"S{index}" if index != 2 else None, status=status, minutes=index)
        for seconds in range(index % 4 + 1):
            role = ("user", "assistant", "system")[seconds % 3]
            await f.message(pg, session, role=role, content=f'm{index}.{seconds} "q" é', seconds=seconds)
        await f.message(pg, session, content="gone", seconds=9, deleted=True)
    await f.session(pg, user.pk, title="deleted", status="deleted", minutes=7, deleted=True)
    await f.session(pg, other.pk, title="not yours", minutes=8)
    # Microseconds with trailing zeros, without any, and all six digits (Python prints them as given).
    await pg.execute(
        """UPDATE chat_sessions
           SET last_activity_at = last_activity_at + (ascii(coalesce(title, 'x')) % 3) * interval '120 ms'
                                  + (length(coalesce(title, '')) % 2) * interval '3 microseconds'
           WHERE user_id = $1""",
        user.pk,
    )
    await pg.execute(
        "UPDATE messages SET timestamp = timestamp + interval '5 microseconds', edited_at = timestamp WHERE seq = 2"
    )
    page = await client.data(
        """{ viewer { chatSessions(first: 100, filter: {status: [ACTIVE, ARCHIVED, DELETED]}) { edges { cursor
             node { messages(first: 20) { edges { cursor } } } } } } }""",
        token=user.token,
    )
    edges = page["viewer"]["chatSessions"]["edges"]
    sessions = await pg.fetch("SELECT id FROM chat_sessions WHERE user_id = ANY($1::uuid[])", [user.pk, other.pk])
    messages = await pg.fetch(
        "SELECT id FROM messages WHERE session_id = ANY($1::uuid[])", [row["id"] for row in sessions]
    )
    ids = [f.gid("ChatSession", row["id"]) for row in sessions] + [f.gid("Message", row["id"]) for row in messages]
    ids += [user.id, f.gid("Nothing", sessions[0]["id"]), f.gid("Message", sessions[0]["id"]), "bm9wZQ"]
    return Seeded(
        user,
        other,
        [edge["cursor"] for edge in edges],
        [message["cursor"] for edge in edges for message in edge["node"]["messages"]["edges"]],
        ids,
    )


@pytest.fixture
async def seeded(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> Seeded:
    return await _seed(client, pg, user)


@st.composite
def _queries(draw: st.DrawFn, seeded: Seeded) -> str:
    message = keyed(draw, MESSAGE_FIELDS, ["__typename"] if draw(st.booleans()) else [])
    roles = filter_input(enum_list("role", ["USER", "ASSISTANT", "SYSTEM"]))
    messages = draw(connection(message, seeded.message_cursors, ["OLDEST_FIRST", "NEWEST_FIRST"], roles))
    extra = [f"messages{messages}"]
    if draw(st.integers(0, 5)) == 5:
        extra.append("contextData { businessContext { currentProject } }")  # needs Python: falls back
    session = keyed(draw, SESSION_FIELDS, extra)
    fragments = ""
    shape = draw(st.sampled_from(["plain", "named", "inline", "include"]))
    if shape == "named":
        fragments, session = f" fragment S on ChatSession {{ {session} }}", "...S"
    elif shape == "inline":
        session = f"... on ChatSession {{ {session} }}"
    elif shape == "include":
        session = f"id @include(if: {str(draw(st.booleans())).lower()}) {session}"
    orders = ["LAST_ACTIVITY_DESC", "LAST_ACTIVITY_ASC", "CREATED_AT_DESC", "CREATED_AT_ASC"]
    statuses = filter_input(enum_list("status", ["ACTIVE", "ARCHIVED", "DELETED"]))
    sessions = draw(connection(session, seeded.session_cursors, orders, statuses))
    viewer = keyed(draw, ["id", "email", "firstName", "createdAt", "emailVerified"], [f"chatSessions{sessions}"])
    return f"{{ viewer {{ {viewer} }} }}{fragments}"


@st.composite
def _node_queries(draw: st.DrawFn, seeded: Seeded) -> str:
    session = keyed(draw, SESSION_FIELDS, [], alias="s")
    message = keyed(draw, MESSAGE_FIELDS, [], alias="m")
    selection = f"__typename ... on ChatSession {{ {session} }} ... on Message {{ {message} }}"
    if draw(st.booleans()):
        selection = f"id {selection}"
    ids = draw(st.lists(st.sampled_from(seeded.ids), max_size=8))
    quoted = ", ".join(f'"{value}"' for value in ids)
    if draw(st.booleans()):
        return f"{{ a: nodes(ids: [{quoted}]) {{ {selection} }} }}"
    single = f'"{ids[0]}"' if ids else '"bm9wZQ"'
    return f"{{ node(id: {single}) {{ {selection} }} }}"


@hypothesis_settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
async def test_compiled_reads_answer_as_the_resolvers_do(
    client: GraphQLClient, resources: Resources, seeded: Seeded, data: st.DataObject
) -> None:
    query = data.draw(_queries(seeded), label="query")  # type: ignore[no-untyped-call]
    compiled, resolved = await both(client, resources, query, seeded.user.token)
    assert compiled == resolved, query


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
async def test_compiled_nodes_answer_as_the_resolvers_do(
    client: GraphQLClient, resources: Resources, seeded: Seeded, data: st.DataObject
) -> None:
    query = data.draw(_node_queries(seeded), label="query")  # type: ignore[no-untyped-call]
    compiled, resolved = await both(client, resources, query, seeded.user.token)
    assert compiled == resolved, query


async def test_nodes_naming_nothing_answer_as_the_resolvers_do(
    client: GraphQLClient, resources: Resources, seeded: Seeded
) -> None:
    """IDs of no compiled row (an unknown type, a key that is not a row), none at all, or mixed with real ones."""
    unknown = [value for value in seeded.ids[-3:-1]]
    own = seeded.ids[0]
    for query in (
        f'{{ node(id: "{unknown[0]}") {{ id }} }}',
        f'{{ node(id: "{unknown[1]}") {{ id }} }}',
        f'{{ nodes(ids: ["{unknown[0]}", "{unknown[1]}"]) {{ id }} }}',
        "{ nodes(ids: []) { id } }",
        f'{{ nodes(ids: ["{unknown[0]}", "{own}", "{own}"]) {{ __typename id }} }}',
    ):
        compiled, resolved = await both(client, resources, query, seeded.user.token)
        assert "errors" not in compiled, (query, compiled)
        assert compiled == resolved, query


async def test_other_users_rows_and_deleted_accounts_stay_hidden(
    client: GraphQLClient, resources: Resources, seeded: Seeded, pg: asyncpg.Connection
) -> None:
    query = "{ viewer { id chatSessions(filter: {status: [DELETED]}) { totalCount nodes { title } } } }"
    compiled, resolved = await both(client, resources, query, seeded.other.token)
    assert (
        compiled
        == resolved
        == {"data": {"viewer": {"id": seeded.other.id, "chatSessions": {"totalCount": 0, "nodes": []}}}}
    )
    await pg.execute("UPDATE users SET deleted_at = now() WHERE id = $1", seeded.other.pk)
    compiled, resolved = await both(client, resources, query, seeded.other.token)
    assert compiled == resolved == {"data": {"viewer": None}}


async def test_node_carries_the_account_check(
    client: GraphQLClient, resources: Resources, seeded: Seeded, pg: asyncpg.Connection, sql_counter: StatementCounter
) -> None:
    """`node`/`nodes` take the deleted-account check with them (graph/permissions.py): a compiled node is one
    statement, and once the account is deleted its still-valid token sees nothing, whether the field compiles
    or falls back to its resolver (a User ID, a selection that needs Python) and runs the check first."""
    page = await client.data(
        "{ viewer { chatSessions(first: 1) { nodes { id messages(first: 1) { nodes { id } } } } } }",
        token=seeded.user.token,
    )
    first = page["viewer"]["chatSessions"]["nodes"][0]
    session, message = first["id"], first["messages"]["nodes"][0]["id"]
    needs_python = "contextData { businessContext { currentProject } }"
    queries = {
        f'{{ node(id: "{session}") {{ id ... on ChatSession {{ title }} }} }}': {"node": None},
        f'{{ node(id: "{message}") {{ id }} }}': {"node": None},
        f'{{ nodes(ids: ["{session}", "{message}"]) {{ id }} }}': {"nodes": [None, None]},
        f'{{ nodes(ids: ["{session}", "{seeded.user.id}"]) {{ id }} }}': {"nodes": [None, None]},
        f'{{ node(id: "{session}") {{ ... on ChatSession {{ {needs_python} }} }} }}': {"node": None},
        f'{{ viewer {{ id }} a: node(id: "{session}") {{ id }} b: node(id: "{message}") {{ id }} }}': {
            "viewer": None,
            "a": None,
            "b": None,
        },
    }
    for query in queries:
        sql_counter.reset()
        alive = await client.data(query, token=seeded.user.token)
        assert any(value not in (None, [None, None]) for value in alive.values()), query
        if query.startswith(f'{{ node(id: "{session}") {{ id'):
            assert sql_counter.count == 1, sql_counter.statements
    await pg.execute("UPDATE users SET deleted_at = now() WHERE id = $1", seeded.user.pk)
    for query, expected in queries.items():
        compiled, resolved = await both(client, resources, query, seeded.user.token)
        assert compiled == resolved == {"data": expected}, query


async def test_a_kept_statement_serves_other_viewers_and_variables(client: GraphQLClient, seeded: Seeded) -> None:
    """Statements are kept per selection and variables (graph/compiled/cache.py); the viewer is bound per request."""
    query = "query($first: Int) { viewer { id chatSessions(first: $first) { nodes { id } } } }"
    answers = []
    for first, token in ((1, seeded.user.token), (2, seeded.user.token), (1, seeded.other.token)):
        answers.append((await client.data(query, {"first": first}, token=token))["viewer"])
    built = COMPILED.built
    again = [(await client.data(query, {"first": first}, token=seeded.user.token))["viewer"] for first in (1, 2)]
    assert COMPILED.built == built, "a request with variables planned its statement again"
    assert again == answers[:2]
    assert [len(viewer["chatSessions"]["nodes"]) for viewer in answers] == [1, 2, 1]
    assert [viewer["id"] for viewer in answers] == [seeded.user.id, seeded.user.id, seeded.other.id]
    assert answers[2]["chatSessions"]["nodes"] != answers[0]["chatSessions"]["nodes"]
    node = "query($id: ID!) { node(id: $id) { id } }"
    for viewer in answers[1:]:
        own = viewer["chatSessions"]["nodes"][0]["id"]
        for _ in range(2):
            built = COMPILED.built
            assert await client.data(node, {"id": own}, token=seeded.user.token) == {
                "node": {"id": own} if viewer["id"] == seeded.user.id else None
            }
        assert COMPILED.built == built, "the second request for the same node planned its statement again"


async def test_the_headline_read_is_one_statement(
    client: GraphQLClient, resources: Resources, seeded: Seeded, sql_counter: StatementCounter
) -> None:
    sql_counter.reset()
    body = await client.execute(HEADLINE, token=seeded.user.token)
    assert sql_counter.count == 1, sql_counter.statements
    sessions = body["data"]["viewer"]["chatSessions"]["edges"]
    assert sorted(edge["node"]["title"] or "" for edge in sessions) == ["", "S0", "S1", "S3", "S4", "S5"]
    assert [len(edge["node"]["messages"]["edges"]) for edge in sessions] != [0] * 6
    assert (await both(client, resources, HEADLINE, seeded.user.token))[1] == body


async def test_a_stored_integer_beyond_64_bits_is_answered(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    """Responses are encoded with orjson, which refuses integers beyond 64 bits; a JSON document may hold one."""
    huge = 10**30
    await f.session(pg, user.pk, context={"businessContext": {"clientInfo": {"n": huge, "m": -huge}}})
    body = await client.execute(
        "{ viewer { chatSessions { nodes { contextData { businessContext { clientInfo } } } } } }", token=user.token
    )
    assert body == {
        "data": {
            "viewer": {
                "chatSessions": {
                    "nodes": [{"contextData": {"businessContext": {"clientInfo": {"n": huge, "m": -huge}}}}]
                }
            }
        }
    }
