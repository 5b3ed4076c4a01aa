"""The world of the compiled-read tests of documents, tasks, integrations and agents
(tests/graph/test_compiled_domains.py): two users' rows (deleted documents, integrations, agents and sessions,
a hidden task, ties in every order, non-ASCII text keys), every row's cursor in every order, and random
selections over them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg
from hypothesis import strategies as st

from graph.node import decode_global_id
from tests import factories as f
from tests.graph.selections import connection, enum_list, filter_input, keyed, string_list
from tests.graphql_client import GraphQLClient, SignedUp

DOCUMENT_FIELDS = [
    "id",
    "filename",
    "originalFilename",
    "title",
    "category",
    "tags",
    "mimeType",
    "fileSize",
    "processingStatus",
    "processingError",
    "uploadedAt",
    "processedAt",
    "deletedAt",
]
TASK_FIELDS = [
    "id",
    "taskType",
    "status",
    "errorMessage",
    "startedAt",
    "runStartedAt",
    "completedAt",
    "processingTimeMs",
    "retryCount",
]
INTEGRATION_FIELDS = [
    "id",
    "provider",
    "providerUserId",
    "tokenExpiresAt",
    "scopes",
    "capabilities",
    "status",
    "lastSyncAt",
    "connectedAt",
    "updatedAt",
    "deletedAt",
]
AGENT_FIELDS = [
    "id",
    "name",
    "description",
    "endpoint",
    "status",
    "version",
    "healthCheckUrl",
    "lastHealthCheck",
    "healthStatus",
    "createdAt",
    "updatedAt",
    "deletedAt",
]
ORDERS = {
    "documents": ["UPLOADED_AT_DESC", "UPLOADED_AT_ASC", "FILENAME_ASC"],
    "tasks": ["STARTED_AT_DESC", "STARTED_AT_ASC"],
    "integrations": ["PROVIDER_ASC", "CONNECTED_AT_DESC"],
    "agents": ["NAME_ASC", "NAME_DESC", "CREATED_AT_DESC"],
}
TOO_LONG = "x" * 101  # beyond a filter's NAME limit: refused at the door


@dataclass
class World:
    user: SignedUp
    other: SignedUp
    cursors: dict[str, list[str]]  # per list, every order's cursors
    agent_ids: list[str]
    ids: list[str]  # both users' rows, deleted ones included


async def seed(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> World:
    other = await client.register()
    # Agents are shared by every test: names of this world's own (live names are unique).
    suffix = user.pk.hex[:8]
    alpha = await f.agent(pg, name=f"Alpha {suffix}", capabilities=[{"name": "add"}])
    accented = await f.agent(pg, name=f'Émile "q" ✓ {suffix}', status="inactive", capabilities=[{"name": "search"}])
    gone = await f.agent(pg, status="error")
    await pg.execute(  # deleted, under the name of a live one: a tie in the name orders
        "UPDATE mcp_agents SET deleted_at = now(), health_status = 'unhealthy', name = $2 WHERE id = $1",
        gone,
        f"Alpha {suffix}",
    )
    await pg.execute("UPDATE mcp_agents SET description = 'd', version = '1.0' WHERE id = $1", alpha)
    live = await f.session(pg, user.pk, title="Live", minutes=1)
    deleted = await f.session(pg, user.pk, title="Gone", minutes=2, deleted=True)
    theirs = await f.session(pg, other.pk, title="Theirs", minutes=3)
    tasks = []
    for index, (agent, session, status) in enumerate(
        [
            (alpha, live, "completed"),
            (accented, None, "failed"),
            (gone, deleted, "running"),
            (alpha, None, "pending"),
            (accented, live, "cancelled"),
            (alpha, live, "completed"),
        ]
    ):
        tasks.append(await f.task(pg, user.pk, agent, session_id=session, status=status, minutes=index // 2))
    hidden = await f.task(pg, user.pk, alpha, session_id=live, minutes=9, task_type="lookup")
    await pg.execute("""UPDATE tasks SET metadata = '{"userVisible": false}' WHERE id = $1""", hidden)
    await pg.execute(
        """UPDATE tasks SET error_message = 'boom', retry_count = 2, processing_time_ms = 15,
                            completed_at = started_at + interval '1.5 seconds', run_started_at = started_at
           WHERE id = $1""",
        tasks[1],
    )
    others = [await f.task(pg, other.pk, alpha, session_id=theirs)]
    documents = []
    for index, (name, tags, category, status) in enumerate(
        [
            ("invoice.pdf", ["tax", "2026"], "finance", "completed"),
            ("Éclair.docx", ["tax"], None, "pending"),
            ("b.txt", [], "legal", "failed"),
            ("a.pdf", ["2026"], "finance", "completed"),
            ("zz.pdf", None, "finance", "processing"),
        ]
    ):
        documents.append(
            await f.document(pg, user.pk, name=name, tags=tags, category=category, status=status, minutes=index // 2)
        )
    documents.append(await f.document(pg, user.pk, name="deleted.pdf", tags=["tax"], minutes=7, deleted=True))
    await pg.execute("UPDATE documents SET tags = NULL WHERE filename = 'zz.pdf' AND user_id = $1", user.pk)
    others.append(await f.document(pg, other.pk, name="theirs.pdf", tags=["tax"]))
    integrations = [
        await f.integration(pg, user.pk, provider="gmail"),
        await f.integration(pg, user.pk, provider="hubspot", status="expired"),
        await f.integration(pg, user.pk, provider="slack", status="disconnected"),
    ]
    await pg.execute("UPDATE integrations SET deleted_at = now() WHERE id = $1", integrations[2])
    await pg.execute("UPDATE integrations SET capabilities = ARRAY['mail', 'é'] WHERE id = $1", integrations[0])
    others.append(await f.integration(pg, other.pk, provider="gmail"))
    world = World(user, other, {}, [f.gid("MCPAgent", pk) for pk in (alpha, accented, gone)], [])
    await _collect_cursors(client, world)
    kinds = (
        [("Task", pk) for pk in [*tasks, hidden, others[0]]]
        + [("Document", pk) for pk in [*documents, others[1]]]
        + [("Integration", pk) for pk in [*integrations, others[2]]]
        + [("MCPAgent", pk) for pk in (alpha, accented, gone)]
        + [("ChatSession", pk) for pk in (live, deleted)]
    )
    world.ids = [f.gid(kind, pk) for kind, pk in kinds] + [f.gid("Nothing", alpha), f.gid("Task", alpha)]
    return world


async def _collect_cursors(client: GraphQLClient, world: World) -> None:
    """Every row's cursor in every order of each list (deleted rows' too, through the filters that show them)."""
    lists = {
        "documents": ["{}", "{deleted: true}"],
        "tasks": ["{}"],
        "integrations": ["{}", "{status: [DISCONNECTED]}"],
    }
    parts = [
        f"{name}{index}x{shown}: {name}(first: 100, orderBy: {order}, filter: {shown_filter}) {{ edges {{ cursor }} }}"
        for name, filters in lists.items()
        for index, order in enumerate(ORDERS[name])
        for shown, shown_filter in enumerate(filters)
    ]
    agents = [
        f"agents{index}x{shown}: agents(first: 100, orderBy: {order}, filter: {{deleted: {flag}}}) "
        "{ edges { cursor } }"
        for index, order in enumerate(ORDERS["agents"])
        for shown, flag in enumerate(("false", "true"))
    ]
    data = await client.data(f"{{ viewer {{ {' '.join(parts)} }} {' '.join(agents)} }}", token=world.user.token)
    answers = {**data["viewer"], **{key: value for key, value in data.items() if key != "viewer"}}
    for key, page in answers.items():
        name = key.split("x")[0].rstrip("0123456789")
        world.cursors.setdefault(name, []).extend(edge["cursor"] for edge in page["edges"])


def _task_filter(world: World) -> st.SearchStrategy[str]:
    agent_ids = st.lists(st.sampled_from([*world.agent_ids, "bm9wZQ", world.ids[0]]), max_size=2).map(
        lambda chosen: f"agentId: {json.dumps(chosen)}"
    )
    return filter_input(
        enum_list("status", ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]),
        agent_ids,
        string_list("taskType", ["add", "lookup", TOO_LONG]),
    )


@st.composite
def _agent(draw: st.DrawFn, world: World, depth: int, alias: str = "a") -> str:
    extra = []
    if depth < 2 and draw(st.integers(0, 3)) == 3:
        extra.append(f"tasks{draw(_tasks(world, depth + 1))}")
    if draw(st.integers(0, 7)) == 7:
        extra.append("capabilities { name }")  # needs Python: falls back
    return keyed(draw, AGENT_FIELDS, extra, alias=alias)


@st.composite
def _tasks(draw: st.DrawFn, world: World, depth: int = 0) -> str:
    extra = ["__typename"] if draw(st.booleans()) else []
    if draw(st.booleans()):
        extra.append(f"agent {{ {draw(_agent(world, depth))} }}")
    if draw(st.booleans()):
        extra.append(f"session {{ {keyed(draw, ['id', 'title', 'status', 'deletedAt'], [])} }}")
    if draw(st.integers(0, 7)) == 7:
        extra.append("metadata { userVisible }")  # needs Python: falls back
    node = keyed(draw, TASK_FIELDS, extra)
    return draw(connection(node, world.cursors["tasks"], ORDERS["tasks"], _task_filter(world)))


@st.composite
def _documents(draw: st.DrawFn, world: World) -> str:
    extra = ["extractedData { summary }"] if draw(st.integers(0, 7)) == 7 else []
    node = keyed(draw, DOCUMENT_FIELDS, extra)
    filters = filter_input(
        string_list("category", ["finance", "legal", "none", TOO_LONG]),
        string_list("tags", ["tax", "2026", " TAX ", "none"]),
        enum_list("processingStatus", ["PENDING", "PROCESSING", "COMPLETED", "FAILED"]),
        st.sampled_from(["deleted: true", "deleted: false"]),
    )
    return draw(connection(node, world.cursors["documents"], ORDERS["documents"], filters))


@st.composite
def _integrations(draw: st.DrawFn, world: World) -> str:
    extra = ["metadata { email }"] if draw(st.integers(0, 7)) == 7 else []
    node = keyed(draw, INTEGRATION_FIELDS, extra)
    filters = filter_input(
        enum_list("provider", ["GMAIL", "HUBSPOT", "SLACK", "OUTLOOK"]),
        enum_list("status", ["CONNECTED", "EXPIRED", "ERROR", "DISCONNECTED"]),
    )
    return draw(connection(node, world.cursors["integrations"], ORDERS["integrations"], filters))


@st.composite
def queries(draw: st.DrawFn, world: World) -> str:
    lists = {
        "documents": _documents(world),
        "tasks": _tasks(world),
        "integrations": _integrations(world),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(lists)), min_size=1, max_size=3, unique=True))
    viewer = keyed(draw, ["id", "email", "firstName"], [f"{name}{draw(lists[name])}" for name in chosen])
    roots = [f"viewer {{ {viewer} }}"] if draw(st.integers(0, 3)) else []
    if draw(st.booleans()) or not roots:
        filters = filter_input(
            enum_list("status", ["ACTIVE", "INACTIVE", "ERROR"]),
            enum_list("healthStatus", ["HEALTHY", "UNHEALTHY", "UNKNOWN"]),
            st.sampled_from(['capability: "add"', 'capability: "search"', f'capability: "{TOO_LONG}"']),
            st.sampled_from(["deleted: true", "deleted: false"]),
        )
        agent = draw(_agent(world, 0))
        roots.append(f"agents{draw(connection(agent, world.cursors['agents'], ORDERS['agents'], filters))}")
    return f"{{ {' '.join(roots)} }}"


@st.composite
def node_queries(draw: st.DrawFn, world: World) -> str:
    fragments = [
        f"... on Document {{ {keyed(draw, DOCUMENT_FIELDS, [], alias='d')} }}",
        f"... on Task {{ {keyed(draw, TASK_FIELDS, ['agent { id name }', 'session { id title }'], alias='t')} }}",
        f"... on Integration {{ {keyed(draw, INTEGRATION_FIELDS, [], alias='i')} }}",
        f"... on MCPAgent {{ {draw(_agent(world, 1, alias='m'))} }}",
        "... on ChatSession { title tasks { totalCount nodes { id } } }",
    ]
    selection = f"__typename {' '.join(fragments)}"
    # Mostly without documents: an ID of a document leaves the whole field to the resolver (its cache).
    pool = world.ids if draw(st.integers(0, 4)) == 4 else [value for value in world.ids if "RG9jdW1lbnQ6" not in value]
    ids = draw(st.lists(st.sampled_from(pool), min_size=draw(st.sampled_from([1, 0])), max_size=8))
    quoted = ", ".join(f'"{value}"' for value in ids)
    if draw(st.booleans()):
        return f"{{ a: nodes(ids: [{quoted}]) {{ {selection} }} }}"
    single = f'"{ids[0]}"' if ids else '"bm9wZQ"'
    return f"{{ node(id: {single}) {{ {selection} }} }}"


def of_kind(world: World, kind: str) -> list[str]:
    return [value for value in world.ids if decode_global_id(value)[0] == kind]


@st.composite
def multi_root_queries(draw: st.DrawFn, world: World) -> str:
    """Several root fields in one operation: `node`/`nodes` under aliases of their own, with or without
    `viewer` and `agents` beside them (their compiled statements share one statement)."""
    roots = []
    for index in range(draw(st.integers(2, 4))):
        # `{ node(id: ...) {...} }` or `{ a: nodes(ids: [...]) {...} }`: the field, under alias r<index>.
        field = draw(node_queries(world))[2:-2].removeprefix("a: ")
        roots.append(f"r{index}: {field}")
    if draw(st.booleans()):
        roots.append(draw(queries(world))[2:-2])
    order = draw(st.permutations(roots))
    return f"{{ {' '.join(order)} }}"
