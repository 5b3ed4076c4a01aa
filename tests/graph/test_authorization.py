"""Authorization: a user sees only their own rows, through `node`, `nodes` and every list; agents are
shared with signed-in users only; soft-deleted rows are invisible; secrets are never part of the graph."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg
import graphql
import pytest

from graph.schema import build_schema
from tests import factories
from tests.factories import gid
from tests.graphql_client import GraphQLClient, SignedUp

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"

OWNED_TYPES = ["User", "ChatSession", "Message", "Integration", "Document", "Task"]

INTEGRATION_CIPHERTEXTS = ("v1:k1:ciphertext-not-a-token", "v1:k1:refresh-ciphertext")
SECRET_FIELD_NAMES = {"passwordHash", "encryptedTokens", "refreshTokenEncrypted", "filePath"}


@dataclass
class Owned:
    """A signed-up user and one row of each table they own, plus the (shared) agent of their task."""

    user: SignedUp
    session: uuid.UUID
    message: uuid.UUID
    integration: uuid.UUID
    document: uuid.UUID
    task: uuid.UUID
    agent: uuid.UUID

    def global_ids(self) -> dict[str, str]:
        return {
            "User": self.user.id,
            "ChatSession": gid("ChatSession", self.session),
            "Message": gid("Message", self.message),
            "Integration": gid("Integration", self.integration),
            "Document": gid("Document", self.document),
            "Task": gid("Task", self.task),
        }


async def _owner(client: GraphQLClient, pg: asyncpg.Connection, agent_id: uuid.UUID) -> Owned:
    user = await client.register()
    session = await factories.session(pg, user.pk, title=f"session of {user.email}")
    message = await factories.message(pg, session, content=f"message of {user.email}")
    integration = await factories.integration(pg, user.pk)
    document = await factories.document(pg, user.pk, name=f"{user.pk}.pdf")
    task = await factories.task(pg, user.pk, agent_id, session_id=session)
    return Owned(
        user=user,
        session=session,
        message=message,
        integration=integration,
        document=document,
        task=task,
        agent=agent_id,
    )


@pytest.fixture
async def shared_agent(pg: asyncpg.Connection) -> uuid.UUID:
    capability = f"cap-{uuid.uuid4().hex[:10]}"
    return await factories.agent(pg, capabilities=[{"name": capability, "description": "Test tool"}])


@pytest.fixture
async def alice(client: GraphQLClient, pg: asyncpg.Connection, shared_agent: uuid.UUID) -> Owned:
    return await _owner(client, pg, shared_agent)


@pytest.fixture
async def bob(client: GraphQLClient, pg: asyncpg.Connection, shared_agent: uuid.UUID) -> Owned:
    return await _owner(client, pg, shared_agent)


# --- node / nodes -------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", OWNED_TYPES)
async def test_owner_sees_own_node(client: GraphQLClient, alice: Owned, type_name: str) -> None:
    global_id = alice.global_ids()[type_name]
    data = await client.data(NODE, {"id": global_id}, token=alice.user.token)
    assert data["node"] == {"__typename": type_name, "id": global_id}


@pytest.mark.parametrize("type_name", OWNED_TYPES)
async def test_other_user_gets_null_for_node(client: GraphQLClient, alice: Owned, bob: Owned, type_name: str) -> None:
    body = await client.execute(NODE, {"id": alice.global_ids()[type_name]}, token=bob.user.token)
    # Exactly as for an object that does not exist: null, and no error that would leak existence.
    assert body == {"data": {"node": None}}


@pytest.mark.parametrize("type_name", OWNED_TYPES)
async def test_anonymous_gets_null_for_node(client: GraphQLClient, alice: Owned, type_name: str) -> None:
    body = await client.execute(NODE, {"id": alice.global_ids()[type_name]})
    assert body == {"data": {"node": None}}


async def test_foreign_node_answers_like_a_missing_one(client: GraphQLClient, alice: Owned, bob: Owned) -> None:
    for type_name, global_id in alice.global_ids().items():
        missing = gid(type_name, uuid.uuid4())
        foreign = await client.execute(NODE, {"id": global_id}, token=bob.user.token)
        absent = await client.execute(NODE, {"id": missing}, token=bob.user.token)
        assert foreign == absent == {"data": {"node": None}}


async def test_nodes_resolves_only_own_objects(client: GraphQLClient, alice: Owned, bob: Owned) -> None:
    alice_ids = list(alice.global_ids().values())
    bob_ids = list(bob.global_ids().values())
    mixed = [alice_ids[0], bob_ids[0], alice_ids[1], bob_ids[1], *alice_ids[2:], *bob_ids[2:]]

    as_alice = (await client.data(NODES, {"ids": mixed}, token=alice.user.token))["nodes"]
    as_bob = (await client.data(NODES, {"ids": mixed}, token=bob.user.token))["nodes"]
    anonymous = (await client.data(NODES, {"ids": mixed}))["nodes"]

    assert [node["id"] if node else None for node in as_alice] == [
        value if value in alice_ids else None for value in mixed
    ]
    assert [node["id"] if node else None for node in as_bob] == [value if value in bob_ids else None for value in mixed]
    assert anonymous == [None] * len(mixed)


async def test_nodes_answers_null_for_every_foreign_id(client: GraphQLClient, alice: Owned, bob: Owned) -> None:
    ids = list(alice.global_ids().values())
    as_bob = await client.execute(NODES, {"ids": ids}, token=bob.user.token)
    assert as_bob == {"data": {"nodes": [None] * len(ids)}}
    as_alice = (await client.data(NODES, {"ids": ids}, token=alice.user.token))["nodes"]
    assert [(node["__typename"], node["id"]) for node in as_alice] == list(alice.global_ids().items())


async def test_foreign_fields_are_not_readable_through_node(client: GraphQLClient, alice: Owned, bob: Owned) -> None:
    query = """
    query($session: ID!, $message: ID!, $document: ID!) {
      session: node(id: $session) { ... on ChatSession { title messages { nodes { content } } } }
      message: node(id: $message) { ... on Message { content session { title } } }
      document: node(id: $document) { ... on Document { filename contentText } }
    }"""
    variables = {
        "session": gid("ChatSession", alice.session),
        "message": gid("Message", alice.message),
        "document": gid("Document", alice.document),
    }
    as_bob = await client.execute(query, variables, token=bob.user.token)
    assert as_bob == {"data": {"session": None, "message": None, "document": None}}
    assert alice.user.email not in json.dumps(as_bob)

    as_alice = await client.data(query, variables, token=alice.user.token)
    assert as_alice["session"]["messages"]["nodes"] == [{"content": f"message of {alice.user.email}"}]
    assert as_alice["message"]["session"]["title"] == f"session of {alice.user.email}"


# --- agents: shared with signed-in users -------------------------------------------------------

AGENT_NODE = "query($id: ID!) { node(id: $id) { __typename id ... on MCPAgent { name } } }"


async def test_agent_node_is_readable_by_any_signed_in_user(client: GraphQLClient, alice: Owned, bob: Owned) -> None:
    agent_id = gid("MCPAgent", alice.agent)
    for viewer in (alice, bob):
        node = (await client.data(AGENT_NODE, {"id": agent_id}, token=viewer.user.token))["node"]
        assert node["__typename"] == "MCPAgent"
        assert node["id"] == agent_id
    nodes = (
        await client.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [agent_id]}, token=bob.user.token)
    )["nodes"]
    assert nodes == [{"id": agent_id}]


async def test_agent_node_is_null_for_anonymous(client: GraphQLClient, shared_agent: uuid.UUID) -> None:
    agent_id = gid("MCPAgent", shared_agent)
    assert await client.execute(AGENT_NODE, {"id": agent_id}) == {"data": {"node": None}}
    assert await client.execute("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [agent_id]}) == {
        "data": {"nodes": [None]}
    }


async def test_root_agents_is_null_for_anonymous(
    client: GraphQLClient, shared_agent: uuid.UUID, user: SignedUp
) -> None:
    query = "{ agents(first: 100) { totalCount nodes { id } } }"
    assert await client.execute(query) == {"data": {"agents": None}}
    agents = (await client.data(query, token=user.token))["agents"]
    assert agents["totalCount"] >= 1


async def test_root_agents_lists_the_shared_agent_for_signed_in_users(
    client: GraphQLClient, pg: asyncpg.Connection, alice: Owned, bob: Owned
) -> None:
    capability = await pg.fetchval("SELECT capabilities->0->>'name' FROM mcp_agents WHERE id = $1", alice.agent)
    query = "query($c: String!) { agents(filter: {capability: $c}) { totalCount nodes { id } } }"
    for viewer in (alice, bob):
        agents = (await client.data(query, {"c": capability}, token=viewer.user.token))["agents"]
        assert agents == {"totalCount": 1, "nodes": [{"id": gid("MCPAgent", alice.agent)}]}


async def test_shared_agent_lists_only_the_viewers_tasks(client: GraphQLClient, alice: Owned, bob: Owned) -> None:
    query = """query($id: ID!) { node(id: $id) { ... on MCPAgent {
        tasks(first: 100) { totalCount nodes { id } } } } }"""
    agent_id = gid("MCPAgent", alice.agent)
    for viewer in (alice, bob):
        tasks = (await client.data(query, {"id": agent_id}, token=viewer.user.token))["node"]["tasks"]
        assert tasks == {"totalCount": 1, "nodes": [{"id": gid("Task", viewer.task)}]}


# --- lists under viewer -------------------------------------------------------------------------

VIEWER_LISTS = """
{
  viewer {
    id
    chatSessions(first: 100, filter: {status: [ACTIVE, ARCHIVED, DELETED]}) {
      totalCount
      nodes { id messages(first: 20) { totalCount nodes { id } } tasks(first: 20) { nodes { id } } }
    }
    documents(first: 100) { totalCount nodes { id } }
    deletedDocuments: documents(first: 100, filter: {deleted: true}) { totalCount nodes { id } }
    integrations(first: 100) { totalCount nodes { id } }
    tasks(first: 100) { totalCount nodes { id agent { id } session { id } } }
  }
}"""


def _listed_ids(viewer: dict) -> set[str]:
    ids = {viewer["id"]}
    for session in viewer["chatSessions"]["nodes"]:
        ids.add(session["id"])
        ids.update(node["id"] for node in session["messages"]["nodes"])
        ids.update(node["id"] for node in session["tasks"]["nodes"])
    for name in ("documents", "deletedDocuments", "integrations", "tasks"):
        ids.update(node["id"] for node in viewer[name]["nodes"])
    ids.update(task["session"]["id"] for task in viewer["tasks"]["nodes"] if task["session"])
    return ids


async def test_viewer_lists_never_include_another_users_rows(
    client: GraphQLClient, pg: asyncpg.Connection, alice: Owned, bob: Owned
) -> None:
    # Alice also has soft-deleted rows, which a filter asking for deleted rows must not reveal to Bob.
    await factories.session(pg, alice.user.pk, status="deleted", deleted=True)
    await factories.document(pg, alice.user.pk, name="deleted.pdf", deleted=True)

    as_bob = (await client.data(VIEWER_LISTS, token=bob.user.token))["viewer"]
    as_alice = (await client.data(VIEWER_LISTS, token=alice.user.token))["viewer"]

    bob_ids, alice_ids = _listed_ids(as_bob), _listed_ids(as_alice)
    assert set(bob.global_ids().values()) <= bob_ids
    assert set(alice.global_ids().values()) <= alice_ids
    assert not bob_ids & set(alice.global_ids().values())
    assert not bob_ids & alice_ids
    assert alice.user.email not in json.dumps(as_bob)

    assert as_bob["chatSessions"]["totalCount"] == 1
    assert as_bob["chatSessions"]["nodes"][0]["messages"]["totalCount"] == 1
    assert as_bob["documents"]["totalCount"] == 1
    assert as_bob["deletedDocuments"] == {"totalCount": 0, "nodes": []}
    assert as_bob["integrations"]["totalCount"] == 1
    assert as_bob["tasks"]["totalCount"] == 1
    assert as_alice["chatSessions"]["totalCount"] == 2
    assert as_alice["deletedDocuments"]["totalCount"] == 1


async def test_task_filter_by_shared_agent_keeps_to_the_viewers_tasks(
    client: GraphQLClient, alice: Owned, bob: Owned
) -> None:
    query = """query($agent: ID!) { viewer { tasks(filter: {agentId: [$agent]}) {
        totalCount nodes { id } } } }"""
    tasks = (await client.data(query, {"agent": gid("MCPAgent", alice.agent)}, token=bob.user.token))["viewer"]["tasks"]
    assert tasks == {"totalCount": 1, "nodes": [{"id": gid("Task", bob.task)}]}


async def test_anonymous_viewer_is_null(client: GraphQLClient, alice: Owned) -> None:
    assert await client.execute(VIEWER_LISTS) == {"data": {"viewer": None}}


# --- soft-deleted rows --------------------------------------------------------------------------


async def test_soft_deleted_objects_answer_null_through_node(
    client: GraphQLClient, pg: asyncpg.Connection, alice: Owned
) -> None:
    deleted_session = await factories.session(pg, alice.user.pk, status="deleted", deleted=True)
    message_in_deleted_session = await factories.message(pg, deleted_session)
    deleted_message = await factories.message(pg, alice.session, deleted=True, seconds=5)
    deleted_document = await factories.document(pg, alice.user.pk, name="gone.pdf", deleted=True)
    hidden = [
        gid("ChatSession", deleted_session),
        gid("Message", message_in_deleted_session),
        gid("Message", deleted_message),
        gid("Document", deleted_document),
    ]

    for global_id in hidden:
        assert await client.execute(NODE, {"id": global_id}, token=alice.user.token) == {"data": {"node": None}}
    nodes = (await client.data(NODES, {"ids": [*hidden, alice.user.id]}, token=alice.user.token))["nodes"]
    assert nodes == [None] * len(hidden) + [{"__typename": "User", "id": alice.user.id}]


async def test_soft_deleted_rows_appear_in_lists_only_when_asked_for(
    client: GraphQLClient, pg: asyncpg.Connection, alice: Owned
) -> None:
    deleted_session = gid("ChatSession", await factories.session(pg, alice.user.pk, status="deleted", deleted=True))
    deleted_document = gid("Document", await factories.document(pg, alice.user.pk, name="gone.pdf", deleted=True))
    deleted_message = gid("Message", await factories.message(pg, alice.session, deleted=True, seconds=5))
    query = """{ viewer {
      sessions: chatSessions(first: 100) { nodes { id messages(first: 20) { nodes { id } } } }
      deletedSessions: chatSessions(first: 100, filter: {status: [DELETED]}) { nodes { id } }
      documents(first: 100) { nodes { id } }
      deletedDocuments: documents(first: 100, filter: {deleted: true}) { nodes { id } }
    } }"""
    viewer = (await client.data(query, token=alice.user.token))["viewer"]
    assert [node["id"] for node in viewer["sessions"]["nodes"]] == [gid("ChatSession", alice.session)]
    assert [node["id"] for node in viewer["sessions"]["nodes"][0]["messages"]["nodes"]] == [
        gid("Message", alice.message)
    ]
    assert deleted_message not in json.dumps(viewer)
    assert [node["id"] for node in viewer["deletedSessions"]["nodes"]] == [deleted_session]
    assert [node["id"] for node in viewer["documents"]["nodes"]] == [gid("Document", alice.document)]
    assert [node["id"] for node in viewer["deletedDocuments"]["nodes"]] == [deleted_document]


async def test_soft_deleted_user_is_invisible(client: GraphQLClient, pg: asyncpg.Connection) -> None:
    user = await client.register()
    await pg.execute("UPDATE users SET deleted_at = now() WHERE id = $1", user.pk)
    assert await client.execute("{ viewer { id } }", token=user.token) == {"data": {"viewer": None}}
    assert await client.execute(NODE, {"id": user.id}, token=user.token) == {"data": {"node": None}}


# --- secrets are never part of the graph --------------------------------------------------------

INTROSPECT_NAMES = """
{
  __schema {
    types {
      name
      fields(includeDeprecated: true) { name args { name } }
      inputFields { name }
    }
  }
}"""


async def test_schema_has_no_secret_fields(client: GraphQLClient) -> None:
    types = (await client.data(INTROSPECT_NAMES))["__schema"]["types"]
    names: set[str] = set()
    output_field_names: set[str] = set()
    for kind in types:
        for field in kind["fields"] or []:
            names.add(field["name"])
            if kind["name"] != "Mutation":  # operation names (changePassword) are not data
                output_field_names.add(field["name"])
            names.update(arg["name"] for arg in field["args"])
        names.update(field["name"] for field in kind["inputFields"] or [])
    assert "Integration" in {kind["name"] for kind in types}
    assert not names & SECRET_FIELD_NAMES
    assert not {
        name for name in names if name.lower().replace("_", "") in {secret.lower() for secret in SECRET_FIELD_NAMES}
    }
    # A password is something clients send, never something the graph answers with.
    assert not {name for name in output_field_names if "password" in name.lower()}
    integration = next(kind for kind in types if kind["name"] == "Integration")
    assert not {
        field["name"]
        for field in integration["fields"]
        if "token" in field["name"].lower() and field["name"] != "tokenExpiresAt"
    }


def _full_selection(
    schema: graphql.GraphQLSchema, type_: graphql.GraphQLNamedType, depth: int, skip: frozenset[str] = frozenset()
) -> str:
    """Every field of a type (and of its object fields, to `depth`) that needs no argument, but those in `skip`."""
    named = graphql.get_named_type(type_)
    if not isinstance(named, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
        return ""
    parts = ["__typename"]
    for name, field in named.fields.items():
        if name in skip or any(graphql.is_required_argument(arg) for arg in field.args.values()):
            continue
        inner = graphql.get_named_type(field.type)
        if isinstance(inner, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
            if depth > 0:
                parts.append(f"{name} {{ {_full_selection(schema, inner, depth - 1, skip)} }}")
        else:
            parts.append(name)
    return " ".join(parts)


@pytest.fixture(scope="module")
def graphql_schema() -> graphql.GraphQLSchema:
    from strawberry.printer import print_schema

    from gateway.settings import Settings

    return graphql.build_schema(print_schema(build_schema(Settings())))


async def test_full_integration_query_never_contains_stored_ciphertext(
    client: GraphQLClient, pg: asyncpg.Connection, alice: Owned, graphql_schema: graphql.GraphQLSchema
) -> None:
    selection = _full_selection(graphql_schema, graphql_schema.get_type("Integration"), depth=4)
    assert "provider" in selection and "metadata" in selection
    query = f"""query($id: ID!) {{
      node(id: $id) {{ ... on Integration {{ {selection} }} }}
      viewer {{ integrations(first: 100) {{ nodes {{ {selection} }} }} }}
    }}"""
    stored = await pg.fetchrow(
        "SELECT encrypted_tokens, refresh_token_encrypted FROM integrations WHERE id = $1", alice.integration
    )
    assert tuple(stored) == INTEGRATION_CIPHERTEXTS

    response = await client.post(query, {"id": gid("Integration", alice.integration)}, token=alice.user.token)
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["node"]["provider"] == "GMAIL"
    assert body["data"]["viewer"]["integrations"]["nodes"][0]["provider"] == "GMAIL"
    for ciphertext in INTEGRATION_CIPHERTEXTS:
        assert ciphertext not in response.text
    assert "ciphertext" not in response.text


async def test_agent_authentication_exposes_only_its_type(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, graphql_schema: graphql.GraphQLSchema
) -> None:
    introspected = await client.data('{ __type(name: "AgentAuthentication") { fields { name } } }')
    assert [field["name"] for field in introspected["__type"]["fields"]] == ["type"]

    secret = f"sk-live-{uuid.uuid4().hex}"
    agent_id = await factories.agent(
        pg,
        configuration={
            "timeout": 5000,
            "retries": 2,
            "authentication": {"type": "apikey", "config": {"apiKey": secret, "header": "X-Api-Key"}, "apiKey": secret},
        },
    )
    # A task's log lines, 50 per task of 50, would take the query over the cost limit; they hold no credential.
    selection = _full_selection(graphql_schema, graphql_schema.get_type("MCPAgent"), depth=4, skip=frozenset({"log"}))
    response = await client.post(
        f"query($id: ID!) {{ node(id: $id) {{ ... on MCPAgent {{ {selection} }} }} }}",
        {"id": gid("MCPAgent", agent_id)},
        token=user.token,
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    configuration = body["data"]["node"]["configuration"]
    assert configuration["authentication"] == {"__typename": "AgentAuthentication", "type": "APIKEY"}
    assert configuration["timeout"] == 5000
    assert secret not in response.text
    assert "X-Api-Key" not in response.text
