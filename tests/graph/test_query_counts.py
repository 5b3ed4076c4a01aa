"""Every list field costs the same number of SQL statements whatever the page size (habit 5): loaders
batch per parent, so a page of 20 under a page of 20 costs what a page of 2 under a page of 2 costs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from services.resources import Resources
from tests import factories as f
from tests.graph.paging import PROVIDERS, unique
from tests.graphql_client import GraphQLClient, SignedUp, StatementCounter

N = 21  # one more than the large page, so every page of 20 is full and has a next page
SMALL, LARGE = 2, 20


@dataclass
class World:
    """N sessions of N messages, N documents, five integrations, N agents (their own capability), and
    N x N tasks: one per (agent, session) pair, started so that any run of N consecutive tasks has N
    different agents and N different sessions (nothing to deduplicate)."""

    capability: str
    sessions: list[uuid.UUID] = field(default_factory=list)  # newest activity first
    messages: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)  # oldest first
    documents: list[uuid.UUID] = field(default_factory=list)
    integrations: list[uuid.UUID] = field(default_factory=list)
    agents: list[uuid.UUID] = field(default_factory=list)  # by name
    tasks: list[uuid.UUID] = field(default_factory=list)


async def build_world(pg: asyncpg.Connection, user: SignedUp) -> World:
    world = World(capability=unique("cap"))
    base = f.BASE_TIME
    session_rows = await pg.fetch(
        """INSERT INTO chat_sessions (user_id, title, status, last_activity_at, created_at, context_data)
           SELECT $1, 'Session ' || i, 'active', $2::timestamptz + i * interval '1 minute', $2::timestamptz,
                  '{"businessContext": {"currentProject": "BAS"}}'::jsonb
           FROM generate_series(0, $3 - 1) AS i
           RETURNING id, last_activity_at""",
        user.pk,
        base,
        N,
    )
    world.sessions = [row["id"] for row in sorted(session_rows, key=lambda r: r["last_activity_at"], reverse=True)]
    message_rows = await pg.fetch(
        """INSERT INTO messages (session_id, role, content, timestamp, metadata, seq)
           SELECT s.id, CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END, 'message ' || i,
                  $2::timestamptz + i * interval '1 second', '{"suggestions": ["ok"]}'::jsonb, i + 1
           FROM unnest($1::uuid[]) AS s(id), generate_series(0, $3 - 1) AS i
           RETURNING id, session_id, timestamp""",
        world.sessions,
        base,
        N,
    )
    for row in sorted(message_rows, key=lambda r: r["timestamp"]):
        world.messages.setdefault(row["session_id"], []).append(row["id"])
    for index in range(N):
        world.documents.append(
            await f.document(
                pg, user.pk, minutes=index, name=f"doc-{index:02d}.pdf", extracted={"summary": f"summary {index}"}
            )
        )
    world.documents.reverse()
    for provider in PROVIDERS:
        world.integrations.append(
            await f.integration(pg, user.pk, provider=provider, metadata={"email": "owner@example.com"})
        )
    await pg.execute(
        """INSERT INTO integration_token_events (integration_id, kind, outcome, attempted_at)
           SELECT i.id, 'refresh', 'ok', $2::timestamptz + n * interval '1 minute'
           FROM unnest($1::uuid[]) AS i(id), generate_series(0, $3 - 1) AS n""",
        world.integrations,
        base,
        N,
    )
    prefix = unique("zz-count")
    agent_rows = await pg.fetch(
        """INSERT INTO mcp_agents (name, endpoint, capabilities, configuration)
           SELECT $1 || '-' || lpad(i::text, 3, '0'), 'http://127.0.0.1:9/mcp',
                  jsonb_build_array(jsonb_build_object('name', $2::text, 'description', 'd')),
                  '{"timeout": 3000}'::jsonb
           FROM generate_series(0, $3 - 1) AS i
           RETURNING id, name""",
        prefix,
        world.capability,
        N,
    )
    world.agents = [row["id"] for row in sorted(agent_rows, key=lambda r: r["name"])]
    records = []
    for k in range(N * N):
        agent, turn = k % N, k // N
        session = (agent + turn) % N
        records.append((user.pk, world.agents[agent], world.sessions[session], base + timedelta(minutes=k)))
    task_rows = await pg.fetch(
        """INSERT INTO tasks (user_id, agent_id, session_id, task_type, input_payload, status, started_at)
           SELECT r.user_id, r.agent_id, r.session_id, 'add', '{"a": 1}'::jsonb, 'completed', r.started_at
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[])
                AS r(user_id, agent_id, session_id, started_at)
           RETURNING id, started_at""",
        [r[0] for r in records],
        [r[1] for r in records],
        [r[2] for r in records],
        [r[3] for r in records],
    )
    world.tasks = [row["id"] for row in sorted(task_rows, key=lambda r: r["started_at"], reverse=True)]
    await pg.execute(
        """INSERT INTO document_processing_logs (document_id, event, status, logged_at)
           SELECT d.id, 'claimed', 'processing', $2::timestamptz + i * interval '1 second'
           FROM unnest($1::uuid[]) AS d(id), generate_series(0, $3 - 1) AS i""",
        world.documents,
        base,
        N,
    )
    # N log lines for each of the newest N tasks (the first page of `viewer.tasks`).
    await pg.execute(
        """INSERT INTO task_logs (task_id, event, status, attempt, logged_at)
           SELECT t.id, 'claimed', 'running', i + 1, $2::timestamptz + i * interval '1 second'
           FROM unnest($1::uuid[]) AS t(id), generate_series(0, $3 - 1) AS i""",
        world.tasks[:N],
        base,
        N,
    )
    return world


async def measure(
    client: GraphQLClient, user: SignedUp, sql_counter: StatementCounter, query: str, variables: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    sql_counter.reset()
    body = await client.execute(query, variables, token=user.token)
    count = sql_counter.count
    assert "errors" not in body, body["errors"]
    return count, body["data"]


@pytest.fixture
def no_compiler(resources: Resources) -> Iterator[None]:
    resources.settings.sql_compiler = False
    yield
    resources.settings.sql_compiler = True


def edges(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


HEADLINE = """query($n: Int, $m: Int) { viewer { chatSessions(first: $n) { totalCount edges { node {
  id title messages(first: $m) { totalCount edges { node { id role content timestamp } } } } } } } }"""


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "resolvers"])
@pytest.mark.parametrize(("n", "m"), [(SMALL, SMALL), (LARGE, LARGE), (LARGE, SMALL), (SMALL, LARGE)])
async def test_sessions_with_their_messages_take_five_statements(
    client: GraphQLClient,
    user: SignedUp,
    pg: asyncpg.Connection,
    sql_counter: StatementCounter,
    resources: Resources,
    n: int,
    m: int,
    compiled: bool,
) -> None:
    world = await build_world(pg, user)
    resources.settings.sql_compiler = compiled
    try:
        count, data = await measure(client, user, sql_counter, HEADLINE, {"n": n, "m": m})
    finally:
        resources.settings.sql_compiler = True
    sessions = data["viewer"]["chatSessions"]
    assert sessions["totalCount"] == N
    assert [s["id"] for s in edges(sessions)] == [f.gid("ChatSession", pk) for pk in world.sessions[:n]]
    for session, pk in zip(edges(sessions), world.sessions, strict=False):
        assert session["messages"]["totalCount"] == N
        assert [msg["id"] for msg in edges(session["messages"])] == [
            f.gid("Message", mid) for mid in world.messages[pk][:m]
        ]
    # Compiled (graph/compiled/): one statement builds the whole answer. Through the resolvers: viewer +
    # sessions page + sessions count + every session's messages page + every session's count.
    assert count == (1 if compiled else 5), sql_counter.statements


@dataclass(frozen=True)
class ListCase:
    name: str
    query: str
    sizes: tuple[int, int] = (SMALL, LARGE)

    def variables(self, world: World, size: int) -> dict[str, Any]:
        return {
            "n": size,
            "m": size,
            "capability": world.capability,
            "session": f.gid("ChatSession", world.sessions[0]),
            "agent": f.gid("MCPAgent", world.agents[0]),
        }


LIST_CASES = [
    ListCase(
        "viewer.chatSessions",
        """query($n: Int) { viewer { chatSessions(first: $n) { totalCount
        pageInfo { hasNextPage endCursor } edges { cursor node { id title status messageCount
        contextData { businessContext { currentProject } } } } } } }""",
    ),
    ListCase(
        "viewer.chatSessions.messages.session",
        """query($n: Int, $m: Int) { viewer {
        chatSessions(first: $n) { edges { node { id messages(first: $m, filter: {role: [USER, ASSISTANT]}) {
        totalCount edges { node { id metadata { suggestions } session { id title } } } } } } } } }""",
    ),
    ListCase(
        "viewer.chatSessions.messages backwards",
        """query($n: Int, $m: Int) { viewer {
        chatSessions(last: $n) { totalCount edges { node { id messages(last: $m, orderBy: NEWEST_FIRST) {
        totalCount pageInfo { hasPreviousPage } edges { cursor node { id } } } } } } } }""",
    ),
    ListCase(
        "viewer.chatSessions.tasks.agent.session",
        """query($n: Int, $m: Int) { viewer {
        chatSessions(first: $n) { edges { node { id tasks(first: $m) { totalCount edges { node {
        id status agent { id name configuration { timeout } } session { id title } } } } } } } } }""",
    ),
    ListCase(
        "viewer.documents",
        """query($n: Int) { viewer { documents(first: $n) { totalCount
        edges { node { id filename extractedData { summary } } } } } }""",
    ),
    ListCase(
        "viewer.documents.processingLog",
        """query($n: Int, $m: Int) { viewer { documents(first: $n) { edges { node { id
        processingLog(first: $m) { totalCount edges { node { event loggedAt } } } } } } } }""",
    ),
    ListCase(
        "viewer.integrations",
        """query($n: Int) { viewer { integrations(first: $n) { totalCount
        edges { node { id provider metadata { email } } } } } }""",
        sizes=(SMALL, len(PROVIDERS)),
    ),
    ListCase(
        "viewer.integrations.refreshHistory",
        """query($n: Int, $m: Int) { viewer { integrations(first: $n) { edges { node { id
        refreshHistory(first: $m) { totalCount edges { cursor node { kind outcome attemptedAt } } } } } } } }""",
        sizes=(SMALL, len(PROVIDERS)),
    ),
    ListCase(
        "viewer.tasks.agent.session",
        """query($n: Int) { viewer { tasks(first: $n) { totalCount
        edges { node { id taskType agent { id name } session { id title } } } } } }""",
    ),
    ListCase(
        "viewer.tasks.log",
        """query($n: Int, $m: Int) { viewer { tasks(first: $n) { edges { node { id
        log(first: $m) { totalCount pageInfo { hasNextPage } edges { node { event attempt loggedAt } } } } } } } }""",
    ),
    ListCase(
        "agents.tasks.session",
        """query($n: Int, $m: Int, $capability: String) {
        agents(first: $n, filter: {capability: $capability}) { totalCount edges { node { id name
        capabilities { name } tasks(first: $m) { totalCount edges { node { id session { id } } } } } } } }""",
    ),
    ListCase(
        "ChatSession.messages",
        """query($n: Int, $session: ID!) { node(id: $session) {
        ... on ChatSession { messages(first: $n) { totalCount edges { node { id content session { id } } } } } } }""",
    ),
    ListCase(
        "ChatSession.tasks",
        """query($n: Int, $session: ID!) { node(id: $session) {
        ... on ChatSession { tasks(first: $n) { totalCount edges { node {
        id agent { id } session { id } } } } } } }""",
    ),
    ListCase(
        "MCPAgent.tasks",
        """query($n: Int, $agent: ID!) { node(id: $agent) {
        ... on MCPAgent { tasks(first: $n) { totalCount edges { node { id agent { id } session { id } } } } } } }""",
    ),
]


def page_sizes(data: Any, path: list[str]) -> list[int]:
    """The length of every `edges` list in the answer, to show the pages really were full."""
    found: list[int] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "edges":
                found.append(len(value))
            found += page_sizes(value, [*path, key])
    elif isinstance(data, list):
        for item in data:
            found += page_sizes(item, path)
    return found


@pytest.mark.parametrize("case", LIST_CASES, ids=[case.name for case in LIST_CASES])
async def test_statements_do_not_grow_with_the_page_size(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: StatementCounter, case: ListCase
) -> None:
    world = await build_world(pg, user)
    counts = []
    for size in case.sizes:
        count, data = await measure(client, user, sql_counter, case.query, case.variables(world, size))
        sizes = page_sizes(data, [])
        assert sizes, data
        assert set(sizes) == {size}, (size, sizes)  # every page (outer and nested) is full
        counts.append(count)
    assert counts[0] == counts[1], (case.name, counts, sql_counter.statements)


def _node_ids(world: World, kind: str, size: int) -> list[str]:
    if kind == "ChatSession":
        return [f.gid(kind, pk) for pk in world.sessions[:size]]
    if kind == "Message":  # one per session, so each needs a different session
        return [f.gid(kind, world.messages[pk][0]) for pk in world.sessions[:size]]
    if kind == "Document":
        return [f.gid(kind, pk) for pk in world.documents[:size]]
    if kind == "Integration":
        return [f.gid(kind, pk) for pk in world.integrations[:size]]
    if kind == "MCPAgent":
        return [f.gid(kind, pk) for pk in world.agents[:size]]
    return [f.gid(kind, pk) for pk in world.tasks[:size]]


NODE_SELECTION = """id
  ... on ChatSession { title messages(first: 2) { totalCount edges { node { id } } } }
  ... on Message { content session { id title } }
  ... on Document { filename }
  ... on Integration { provider }
  ... on MCPAgent { name tasks(first: 2) { totalCount edges { node { id } } } }
  ... on Task { status agent { id name } session { id } }"""
NODES = f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {NODE_SELECTION} }} }}"
NODE_KINDS = ["ChatSession", "Message", "Document", "Integration", "MCPAgent", "Task"]


@pytest.mark.parametrize("kind", NODE_KINDS)
async def test_nodes_cost_the_same_for_2_or_20_ids(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: StatementCounter, kind: str
) -> None:
    world = await build_world(pg, user)
    large = len(PROVIDERS) if kind == "Integration" else LARGE
    counts = []
    for size in (SMALL, large):
        ids = _node_ids(world, kind, size)
        count, data = await measure(client, user, sql_counter, NODES, {"ids": ids})
        assert [node["id"] for node in data["nodes"]] == ids
        counts.append(count)
    assert counts[0] == counts[1], (kind, counts, sql_counter.statements)


async def test_nodes_of_every_kind_at_once_cost_the_same_for_2_or_20_of_each(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: StatementCounter
) -> None:
    world = await build_world(pg, user)
    counts = []
    for size in (SMALL, LARGE // 2):  # 6 kinds x 10 is within the 100 ids `nodes` takes
        ids = [node_id for kind in NODE_KINDS for node_id in _node_ids(world, kind, size)]
        count, data = await measure(client, user, sql_counter, NODES, {"ids": ids})
        assert [node["id"] for node in data["nodes"]] == ids
        counts.append(count)
    assert counts[0] == counts[1], (counts, sql_counter.statements)


async def test_many_node_fields_in_one_query_cost_the_same_as_two(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: StatementCounter
) -> None:
    world = await build_world(pg, user)
    counts = []
    for size in (SMALL, LARGE):
        ids = _node_ids(world, "Message", size)
        variables = {f"i{index}": value for index, value in enumerate(ids)}
        declared = ", ".join(f"$i{index}: ID!" for index in range(size))
        fields = " ".join(
            f"n{index}: node(id: $i{index}) {{ id ... on Message {{ session {{ id }} }} }}" for index in range(size)
        )
        count, data = await measure(client, user, sql_counter, f"query({declared}) {{ {fields} }}", variables)
        assert [data[f"n{index}"]["id"] for index in range(size)] == ids
        counts.append(count)
    # Compiled (`Message.session` is a to-one relation), every root field in one statement.
    assert counts == [1, 1], (counts, sql_counter.statements)


async def test_statement_count_is_not_changed_by_json_views(
    client: GraphQLClient,
    user: SignedUp,
    pg: asyncpg.Connection,
    sql_counter: StatementCounter,
    resources: Resources,
    no_compiler: None,
) -> None:
    """Typed JSON views are read from the row already loaded: asking for them adds no statement. (Through
    the resolvers: compiled, the plain read is one statement, and a JSON view, which needs Python, sends
    the read back to the resolvers.)"""
    world = await build_world(pg, user)
    plain = """query { viewer { chatSessions(first: 20) { edges { node { id } } } } }"""
    with_json = """query { viewer { preferences { ai { personality } } chatSessions(first: 20) { edges { node {
        id contextData { businessContext { currentProject } aiContext { memory } } } } } } }"""
    plain_count, _ = await measure(client, user, sql_counter, plain, {})
    json_count, data = await measure(client, user, sql_counter, with_json, {})
    assert plain_count == json_count
    assert len(data["viewer"]["chatSessions"]["edges"]) == 20
    assert json.dumps(data).count('"currentProject": "BAS"') == 20
    assert world.sessions
