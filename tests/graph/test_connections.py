"""Connections as a client sees them: default page size and order, paging both ways with no gap and no
duplicate, pageInfo, totalCount, orderBy, filters, soft-deleted rows, and refused page arguments."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from graph.node import decode_global_id
from tests import factories as f
from tests.graph.paging import (
    BY_NAME,
    CONNECTIONS,
    PROVIDERS,
    Conn,
    Lit,
    assert_bad_user_input,
    fetch,
    ids_of,
    new_agent,
    unique,
    walk_backward,
    walk_forward,
)
from tests.graphql_client import GraphQLClient, SignedUp

each_connection = pytest.mark.parametrize("conn", CONNECTIONS, ids=[conn.name for conn in CONNECTIONS])
SESSIONS = BY_NAME["viewer.chatSessions"]
DOCUMENTS = BY_NAME["viewer.documents"]
INTEGRATIONS = BY_NAME["viewer.integrations"]
TASKS = BY_NAME["viewer.tasks"]
MESSAGES = BY_NAME["ChatSession.messages"]
SESSION_TASKS = BY_NAME["ChatSession.tasks"]
AGENT_TASKS = BY_NAME["MCPAgent.tasks"]
AGENTS = BY_NAME["agents"]
REGISTRY = dataclasses.replace(AGENTS, base_args="")  # the agents connection with filters of the test's own


def shuffled_keys(conn: Conn, count: int) -> list[int]:
    """Sort keys stored in an order that is not the sort order, so order comes from the query."""
    keys = list(range(min(count, conn.max_rows or count)))
    random.Random(count).shuffle(keys)
    return keys


def pk(global_id: str) -> uuid.UUID:
    return decode_global_id(global_id)[1]  # type: ignore[return-value]


async def raw(client: GraphQLClient, user: SignedUp, conn: Conn, ctx: dict[str, str], **args: Any):
    return await client.post(conn.query(ctx, args), token=user.token)


def forge(cursor: str, mutate) -> str:
    """A cursor as a hostile client would forge it: decode a real one, change it, encode it again."""
    name, values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    forged = mutate(name, values)
    return base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")


# ---------------------------------------------------------------------------------------------------
# every connection


@each_connection
async def test_default_order_and_a_single_page(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn
) -> None:
    keys = shuffled_keys(conn, 6)
    ctx, ids = await conn.make(pg, user, keys)
    page = await fetch(client, user, conn, ctx)
    assert ids_of(page) == conn.expected(keys, ids)
    assert page["totalCount"] == len(keys)
    assert page["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": page["edges"][0]["cursor"],
        "endCursor": page["edges"][-1]["cursor"],
    }


@each_connection
async def test_an_empty_connection(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn) -> None:
    ctx, _ = await conn.make(pg, user, [])
    page = await fetch(client, user, conn, ctx)
    assert page == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
    }


@each_connection
async def test_paging_forward_visits_every_row_once(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn
) -> None:
    keys = shuffled_keys(conn, 6)
    size = 3 if len(keys) == 6 else 2
    ctx, ids = await conn.make(pg, user, keys)
    seen = await walk_forward(client, user, conn, ctx, size=size, total=len(keys))
    assert seen == conn.expected(keys, ids)


@each_connection
async def test_paging_backward_visits_every_row_once(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn
) -> None:
    keys = shuffled_keys(conn, 7)
    ctx, ids = await conn.make(pg, user, keys)
    collected = await walk_backward(client, user, conn, ctx, size=2, total=len(keys))
    assert collected == conn.expected(keys, ids)


@each_connection
async def test_after_and_before_together_bound_a_window(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn
) -> None:
    keys = shuffled_keys(conn, 6)
    ctx, ids = await conn.make(pg, user, keys)
    expected = conn.expected(keys, ids)
    cursors = [edge["cursor"] for edge in (await fetch(client, user, conn, ctx))["edges"]]
    window = await fetch(client, user, conn, ctx, first=10, after=cursors[0], before=cursors[4])
    assert ids_of(window) == expected[1:4]
    assert window["totalCount"] == len(keys)
    tail = await fetch(client, user, conn, ctx, last=2, after=cursors[0], before=cursors[4])
    assert ids_of(tail) == expected[2:4]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    assert tail["pageInfo"]["hasNextPage"] is True


@each_connection
async def test_a_cursor_of_another_order_is_refused(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn
) -> None:
    ctx, _ = await conn.make(pg, user, shuffled_keys(conn, 3))
    default_cursor = (await fetch(client, user, conn, ctx, first=1))["pageInfo"]["endCursor"]
    other = Lit(conn.alternative_order)
    other_cursor = (await fetch(client, user, conn, ctx, first=1, orderBy=other))["pageInfo"]["endCursor"]
    assert_bad_user_input(
        await raw(client, user, conn, ctx, first=1, after=default_cursor, orderBy=other), mentions="after"
    )
    assert_bad_user_input(await raw(client, user, conn, ctx, last=1, before=other_cursor), mentions="before")
    # each cursor still works in its own order
    assert (await fetch(client, user, conn, ctx, first=1, after=other_cursor, orderBy=other))["edges"]


BAD_PAGE_ARGUMENTS = [
    pytest.param({"first": 101}, "first", id="first-101"),
    pytest.param({"first": -1}, "first", id="first-negative"),
    pytest.param({"last": 101}, "last", id="last-101"),
    pytest.param({"last": -1}, "last", id="last-negative"),
    pytest.param({"first": 2, "last": 2}, "first", id="first-and-last"),
    pytest.param({"after": "garbage"}, "after", id="garbage-after"),
    pytest.param({"before": "%%%not-base64%%%"}, "before", id="garbage-before"),
    pytest.param(
        {"first": 2, "after": base64.urlsafe_b64encode(b"not json").decode()}, "after", id="base64-but-not-a-cursor"
    ),
    pytest.param(
        {"first": 2, "after": base64.urlsafe_b64encode(b'{"a": 1}').decode()}, "after", id="json-but-not-a-cursor"
    ),
]


@each_connection
@pytest.mark.parametrize(("args", "mentions"), BAD_PAGE_ARGUMENTS)
async def test_bad_page_arguments_are_client_errors(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn, args: dict[str, Any], mentions: str
) -> None:
    ctx, _ = await conn.make(pg, user, shuffled_keys(conn, 2))
    body = assert_bad_user_input(await raw(client, user, conn, ctx, **args), mentions=mentions)
    assert body["data"][conn.path[0]] is None
    assert body["errors"][0]["path"][-1] == conn.path[-1]


@each_connection
async def test_page_size_limits_are_inclusive(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn
) -> None:
    keys = shuffled_keys(conn, 3)
    ctx, ids = await conn.make(pg, user, keys)
    expected = conn.expected(keys, ids)
    assert ids_of(await fetch(client, user, conn, ctx, first=100)) == expected
    assert ids_of(await fetch(client, user, conn, ctx, last=100)) == expected
    empty = await fetch(client, user, conn, ctx, first=0)
    assert empty["edges"] == []
    assert empty["totalCount"] == 3
    assert empty["pageInfo"]["hasNextPage"] is True
    assert empty["pageInfo"]["startCursor"] is None


@pytest.mark.parametrize(
    "conn", [conn for conn in CONNECTIONS if conn.max_rows is None and conn is not AGENTS], ids=lambda conn: conn.name
)
async def test_default_page_is_50(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn) -> None:
    keys = shuffled_keys(conn, 55)
    ctx, ids = await conn.make(pg, user, keys)
    expected = conn.expected(keys, ids)
    page = await fetch(client, user, conn, ctx)
    assert ids_of(page) == expected[:50]
    assert page["totalCount"] == 55
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await fetch(client, user, conn, ctx, after=page["pageInfo"]["endCursor"])
    assert ids_of(rest) == expected[50:]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True


async def test_default_page_of_the_agent_registry_is_50(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    capability = unique("cap")
    values = [(f"zz-page50-{capability}-{index:03d}", json.dumps([{"name": capability}])) for index in range(55)]
    await pg.executemany(
        "INSERT INTO mcp_agents (name, endpoint, capabilities) VALUES ($1, 'http://127.0.0.1:9/mcp', $2::jsonb)", values
    )
    ctx = {"capability": capability}
    page = await fetch(
        client, user, AGENTS, ctx, selection="totalCount pageInfo { hasNextPage endCursor } edges { node { name } }"
    )
    names = [edge["node"]["name"] for edge in page["edges"]]
    assert names == sorted(name for name, _ in values)[:50]
    assert page["totalCount"] == 55
    assert page["pageInfo"]["hasNextPage"] is True


async def test_a_cursor_of_another_connection_is_refused(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    session = await f.session(pg, user.pk)
    await f.message(pg, session)
    await f.document(pg, user.pk)
    session_cursor = (await fetch(client, user, SESSIONS, {}))["pageInfo"]["endCursor"]
    ctx = {"parent": f.gid("ChatSession", session)}
    message_cursor = (await fetch(client, user, MESSAGES, ctx))["pageInfo"]["endCursor"]
    assert_bad_user_input(await raw(client, user, DOCUMENTS, {}, after=session_cursor), mentions="after")
    assert_bad_user_input(await raw(client, user, TASKS, {}, before=message_cursor), mentions="before")
    assert_bad_user_input(await raw(client, user, SESSION_TASKS, ctx, after=message_cursor), mentions="after")


FORGERIES = [
    # The wrong type for the first key: a number for a text or time key, text for a number (`seq`).
    pytest.param(
        lambda name, values: [name, ["5" if isinstance(values[0], int) else 5, values[1]]],
        id="wrong-type-for-first-key",
    ),
    pytest.param(lambda name, values: [name, [True, values[1]]], id="bool-for-first-key"),
    pytest.param(lambda name, values: [name, [None, values[1]]], id="null-for-first-key"),
    pytest.param(lambda name, values: [name, [{"a": 1}, values[1]]], id="object-for-first-key"),
    pytest.param(lambda name, values: [name, ["a\x00b", values[1]]], id="nul-in-first-key"),
    pytest.param(lambda name, values: [name, [values[0], "not-a-uuid"]], id="bad-uuid"),
    pytest.param(lambda name, values: [name, [values[0], 7]], id="number-for-uuid"),
    pytest.param(lambda name, values: [name, [values[0]]], id="missing-key"),
    pytest.param(lambda name, values: [name, [*values, values[1]]], id="extra-key"),
    pytest.param(lambda name, values: [name + "x", values], id="unknown-order"),
    pytest.param(lambda name, values: {"name": name}, id="not-a-pair"),
]


@pytest.mark.parametrize("mutate", FORGERIES)
@pytest.mark.parametrize(
    ("conn", "order"),
    [
        (AGENTS, "NAME_ASC"),
        (DOCUMENTS, "FILENAME_ASC"),
        (INTEGRATIONS, "PROVIDER_ASC"),
        (SESSIONS, "LAST_ACTIVITY_DESC"),
        (MESSAGES, "OLDEST_FIRST"),
    ],
    ids=lambda value: value.name if isinstance(value, Conn) else value,
)
async def test_forged_cursors_are_client_errors(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, conn: Conn, order: str, mutate
) -> None:
    ctx, _ = await conn.make(pg, user, [0, 1])
    cursor = (await fetch(client, user, conn, ctx, first=1, orderBy=Lit(order)))["pageInfo"]["endCursor"]
    forged = forge(cursor, mutate)
    assert_bad_user_input(
        await raw(client, user, conn, ctx, first=1, after=forged, orderBy=Lit(order)), mentions="after"
    )


async def test_naive_timestamp_in_a_cursor_is_refused(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    await f.session(pg, user.pk)
    cursor = (await fetch(client, user, SESSIONS, {}))["pageInfo"]["endCursor"]
    forged = forge(cursor, lambda name, values: [name, ["2026-01-01T00:00:00", values[1]]])
    assert_bad_user_input(await raw(client, user, SESSIONS, {}, after=forged), mentions="after")


# ---------------------------------------------------------------------------------------------------
# chat sessions


async def test_session_orders(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    # activity order s1 < s2 < s3, creation order the other way round
    s1, s2, s3 = [await f.session(pg, user.pk, minutes=minutes) for minutes in (10, 20, 30)]
    for session, minutes in ((s1, 30), (s2, 20), (s3, 10)):
        await pg.execute(
            "UPDATE chat_sessions SET created_at = $2 WHERE id = $1", session, f.BASE_TIME + timedelta(minutes=minutes)
        )
    g1, g2, g3 = (f.gid("ChatSession", s) for s in (s1, s2, s3))
    orders = {
        "LAST_ACTIVITY_DESC": [g3, g2, g1],
        "LAST_ACTIVITY_ASC": [g1, g2, g3],
        "CREATED_AT_DESC": [g1, g2, g3],
        "CREATED_AT_ASC": [g3, g2, g1],
    }
    for order, expected in orders.items():
        assert ids_of(await fetch(client, user, SESSIONS, {}, orderBy=Lit(order))) == expected, order
        assert await walk_forward(client, user, SESSIONS, {}, size=2, total=3, orderBy=Lit(order)) == expected
        assert await walk_backward(client, user, SESSIONS, {}, size=2, total=3, orderBy=Lit(order)) == expected


async def test_session_status_filter_and_deleted_sessions(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    active = f.gid("ChatSession", await f.session(pg, user.pk, minutes=1, status="active"))
    archived = f.gid("ChatSession", await f.session(pg, user.pk, minutes=2, status="archived"))
    deleted = f.gid("ChatSession", await f.session(pg, user.pk, minutes=3, status="deleted", deleted=True))
    cases = {
        None: [archived, active],
        "[ACTIVE]": [active],
        "[ARCHIVED]": [archived],
        "[ACTIVE, ARCHIVED]": [archived, active],
        "[DELETED]": [deleted],
        "[ACTIVE, DELETED]": [deleted, active],
    }
    for status, expected in cases.items():
        args = {} if status is None else {"filter": Lit(f"{{status: {status}}}")}
        page = await fetch(client, user, SESSIONS, {}, **args)
        assert ids_of(page) == expected, status
        assert page["totalCount"] == len(expected), status
    listed = await fetch(
        client, user, SESSIONS, {}, selection="edges { node { status deletedAt } }", filter=Lit("{status: [DELETED]}")
    )
    assert listed["edges"][0]["node"]["status"] == "DELETED"
    assert listed["edges"][0]["node"]["deletedAt"] is not None


async def test_session_paging_with_a_filter_counts_only_matching_rows(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    archived = [f.gid("ChatSession", await f.session(pg, user.pk, minutes=m, status="archived")) for m in (5, 1, 3)]
    for minutes in (2, 4, 6):
        await f.session(pg, user.pk, minutes=minutes, status="active")
    seen = await walk_forward(client, user, SESSIONS, {}, size=2, total=3, filter=Lit("{status: [ARCHIVED]}"))
    assert seen == [archived[0], archived[2], archived[1]]


async def test_sessions_with_equal_activity_page_without_gap_or_duplicate(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    ids = [f.gid("ChatSession", await f.session(pg, user.pk, minutes=7)) for _ in range(7)]
    expected = sorted(ids, key=pk, reverse=True)  # ties fall back to the id
    assert await walk_forward(client, user, SESSIONS, {}, size=2, total=7) == expected
    assert await walk_backward(client, user, SESSIONS, {}, size=3, total=7) == expected
    ascending = await walk_forward(client, user, SESSIONS, {}, size=3, total=7, orderBy=Lit("LAST_ACTIVITY_ASC"))
    assert ascending == expected[::-1]


# ---------------------------------------------------------------------------------------------------
# messages


async def test_messages_role_filter_and_soft_deleted_messages(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    session = await f.session(pg, user.pk)
    ctx = {"parent": f.gid("ChatSession", session)}
    specs = [
        ("user", False),
        ("assistant", False),
        ("user", True),
        ("system", False),
        ("assistant", False),
        ("assistant", True),
    ]
    ids = [
        f.gid("Message", await f.message(pg, session, role=role, seconds=index, deleted=deleted))
        for index, (role, deleted) in enumerate(specs)
    ]
    m0, m1, _, m3, m4, _ = ids
    cases = {
        None: [m0, m1, m3, m4],
        "[ASSISTANT]": [m1, m4],
        "[USER, SYSTEM]": [m0, m3],
        "[USER]": [m0],
    }
    for role, expected in cases.items():
        args = {} if role is None else {"filter": Lit(f"{{role: {role}}}")}
        page = await fetch(client, user, MESSAGES, ctx, **args)
        assert ids_of(page) == expected, role
        assert page["totalCount"] == len(expected), role
    newest = await fetch(client, user, MESSAGES, ctx, orderBy=Lit("NEWEST_FIRST"))
    assert ids_of(newest) == [m4, m3, m1, m0]
    assert await walk_forward(client, user, MESSAGES, ctx, size=3, total=4) == [m0, m1, m3, m4]
    assert await walk_backward(client, user, MESSAGES, ctx, size=1, total=2, filter=Lit("{role: [ASSISTANT]}")) == [
        m1,
        m4,
    ]
    roles = await fetch(client, user, MESSAGES, ctx, selection="edges { node { role content } }")
    assert [edge["node"]["role"] for edge in roles["edges"]] == ["USER", "ASSISTANT", "SYSTEM", "ASSISTANT"]


async def test_messages_with_equal_timestamps_page_in_written_order_without_gap_or_duplicate(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    session = await f.session(pg, user.pk)
    ctx = {"parent": f.gid("ChatSession", session)}
    ids = [f.gid("Message", await f.message(pg, session, seconds=3)) for _ in range(6)]
    expected = ids  # by seq: the order they were written in, whatever their timestamps
    assert await walk_forward(client, user, MESSAGES, ctx, size=4, total=6) == expected
    assert await walk_backward(client, user, MESSAGES, ctx, size=4, total=6) == expected


async def test_messages_of_each_session_stay_in_their_session(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    first, second = await f.session(pg, user.pk, minutes=2), await f.session(pg, user.pk, minutes=1)
    mine = {first: [], second: []}
    for index in range(4):
        for session in (first, second):
            mine[session].append(f.gid("Message", await f.message(pg, session, seconds=index)))
    data = await client.data(
        """{ viewer { chatSessions { edges { node { id
        messages(first: 3) { totalCount pageInfo { hasNextPage } edges { node { id } } } } } } } }""",
        token=user.token,
    )
    sessions = data["viewer"]["chatSessions"]["edges"]
    assert [edge["node"]["id"] for edge in sessions] == [f.gid("ChatSession", first), f.gid("ChatSession", second)]
    for edge, session in zip(sessions, (first, second), strict=True):
        messages = edge["node"]["messages"]
        assert ids_of(messages) == mine[session][:3]
        assert messages["totalCount"] == 4
        assert messages["pageInfo"]["hasNextPage"] is True
    backwards = await client.data(
        """{ viewer { chatSessions { edges { node {
        messages(last: 3) { pageInfo { hasPreviousPage hasNextPage } edges { node { id } } } } } } } }""",
        token=user.token,
    )
    for edge, session in zip(backwards["viewer"]["chatSessions"]["edges"], (first, second), strict=True):
        messages = edge["node"]["messages"]
        assert ids_of(messages) == mine[session][1:]
        assert messages["pageInfo"] == {"hasPreviousPage": True, "hasNextPage": False}


# ---------------------------------------------------------------------------------------------------
# documents


async def test_document_filters(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    async def doc(minutes: int, **kwargs: Any) -> str:
        return f.gid("Document", await f.document(pg, user.pk, minutes=minutes, **kwargs))

    d1 = await doc(1, category="finance", tags=["tax", "2026"], status="completed")
    d2 = await doc(2, category="finance", tags=["tax"], status="pending")
    d3 = await doc(3, category="legal", tags=["tax", "2026", "urgent"], status="failed")
    d4 = await doc(4, category="finance", tags=["tax", "2026"], status="completed", deleted=True)
    d5 = await doc(5, category=None, tags=[], status="completed")
    cases = {
        None: [d5, d3, d2, d1],
        '{category: ["finance"]}': [d2, d1],
        '{category: ["finance", "legal"]}': [d3, d2, d1],
        '{tags: ["tax", "2026"]}': [d3, d1],
        '{tags: ["tax"]}': [d3, d2, d1],
        '{tags: ["urgent", "nope"]}': [],
        "{processingStatus: [COMPLETED]}": [d5, d1],
        "{processingStatus: [PENDING, FAILED]}": [d3, d2],
        '{category: ["finance"], tags: ["2026"]}': [d1],
        "{deleted: true}": [d4],
        '{deleted: true, category: ["legal"]}': [],
        '{deleted: true, tags: ["2026"], processingStatus: [COMPLETED]}': [d4],
    }
    for filter_text, expected in cases.items():
        args = {} if filter_text is None else {"filter": Lit(filter_text)}
        page = await fetch(client, user, DOCUMENTS, {}, **args)
        assert ids_of(page) == expected, filter_text
        assert page["totalCount"] == len(expected), filter_text
    seen = await walk_forward(client, user, DOCUMENTS, {}, size=1, total=2, filter=Lit('{tags: ["2026", "tax"]}'))
    assert seen == [d3, d1]


async def test_document_orders(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    names = {1: "b-report.pdf", 2: "c-notes.pdf", 3: "a-invoice.pdf", 4: "a-invoice.pdf"}
    ids = {
        minutes: f.gid("Document", await f.document(pg, user.pk, minutes=minutes, name=name))
        for minutes, name in names.items()
    }
    by_upload = [ids[1], ids[2], ids[3], ids[4]]
    same_name = sorted([ids[3], ids[4]], key=pk)
    by_name = [*same_name, ids[1], ids[2]]
    assert ids_of(await fetch(client, user, DOCUMENTS, {})) == by_upload[::-1]
    assert ids_of(await fetch(client, user, DOCUMENTS, {}, orderBy=Lit("UPLOADED_AT_ASC"))) == by_upload
    assert ids_of(await fetch(client, user, DOCUMENTS, {}, orderBy=Lit("FILENAME_ASC"))) == by_name
    assert await walk_forward(client, user, DOCUMENTS, {}, size=1, total=4, orderBy=Lit("FILENAME_ASC")) == by_name
    assert await walk_backward(client, user, DOCUMENTS, {}, size=3, total=4, orderBy=Lit("FILENAME_ASC")) == by_name
    assert await walk_forward(client, user, DOCUMENTS, {}, size=3, total=4, orderBy=Lit("UPLOADED_AT_ASC")) == by_upload


# ---------------------------------------------------------------------------------------------------
# tasks


async def test_task_filters(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    agent_a, agent_b = await new_agent(pg), await new_agent(pg)
    t1 = f.gid("Task", await f.task(pg, user.pk, agent_a, status="completed", task_type="add", minutes=1))
    t2 = f.gid("Task", await f.task(pg, user.pk, agent_a, status="failed", task_type="add", minutes=2))
    t3 = f.gid("Task", await f.task(pg, user.pk, agent_b, status="completed", task_type="multiply", minutes=3))
    t4 = f.gid("Task", await f.task(pg, user.pk, agent_b, status="pending", task_type="add", minutes=4))
    a, b = f.gid("MCPAgent", agent_a), f.gid("MCPAgent", agent_b)
    unknown_agent = f.gid("MCPAgent", uuid.uuid4())
    not_an_agent = f.gid("ChatSession", await f.session(pg, user.pk))
    cases = {
        None: [t4, t3, t2, t1],
        "{status: [COMPLETED]}": [t3, t1],
        "{status: [PENDING, FAILED]}": [t4, t2],
        f'{{agentId: ["{a}"]}}': [t2, t1],
        f'{{agentId: ["{a}", "{b}"]}}': [t4, t3, t2, t1],
        '{taskType: ["multiply"]}': [t3],
        '{taskType: ["add"], status: [COMPLETED]}': [t1],
        f'{{status: [COMPLETED], agentId: ["{b}"]}}': [t3],
        f'{{agentId: ["{unknown_agent}"]}}': [],
        f'{{agentId: ["{not_an_agent}"]}}': [],
        f'{{agentId: ["{unknown_agent}", "{b}"]}}': [t4, t3],
        "{status: [CANCELLED]}": [],
    }
    for filter_text, expected in cases.items():
        args = {} if filter_text is None else {"filter": Lit(filter_text)}
        page = await fetch(client, user, TASKS, {}, **args)
        assert ids_of(page) == expected, filter_text
        assert page["totalCount"] == len(expected), filter_text
    assert ids_of(await fetch(client, user, TASKS, {}, orderBy=Lit("STARTED_AT_ASC"))) == [t1, t2, t3, t4]
    assert await walk_forward(client, user, TASKS, {}, size=1, total=2, filter=Lit("{status: [COMPLETED]}")) == [t3, t1]
    assert_bad_user_input(await raw(client, user, TASKS, {}, filter=Lit('{agentId: ["!!!not an id"]}')))


async def test_session_tasks_are_the_sessions_own(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    agent = await new_agent(pg)
    session, elsewhere = await f.session(pg, user.pk), await f.session(pg, user.pk)
    inside = [
        f.gid("Task", await f.task(pg, user.pk, agent, session_id=session, minutes=m, status=status))
        for m, status in ((1, "completed"), (2, "failed"), (3, "completed"))
    ]
    await f.task(pg, user.pk, agent, session_id=elsewhere, minutes=4)
    await f.task(pg, user.pk, agent, minutes=5)
    ctx = {"parent": f.gid("ChatSession", session)}
    page = await fetch(client, user, SESSION_TASKS, ctx)
    assert ids_of(page) == inside[::-1]
    assert page["totalCount"] == 3
    completed = await fetch(client, user, SESSION_TASKS, ctx, filter=Lit("{status: [COMPLETED]}"))
    assert ids_of(completed) == [inside[2], inside[0]]
    assert completed["totalCount"] == 2
    ascending = await fetch(client, user, SESSION_TASKS, ctx, orderBy=Lit("STARTED_AT_ASC"))
    assert ids_of(ascending) == inside


async def test_agent_tasks_are_the_viewers_own_tasks_of_that_agent(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    agent, other_agent = await new_agent(pg), await new_agent(pg)
    stranger = await client.register()
    mine = [
        f.gid("Task", await f.task(pg, user.pk, agent, minutes=m, task_type=kind))
        for m, kind in ((1, "add"), (2, "multiply"), (3, "add"))
    ]
    await f.task(pg, user.pk, other_agent, minutes=4)
    await f.task(pg, stranger.pk, agent, minutes=5)
    ctx = {"parent": f.gid("MCPAgent", agent)}
    page = await fetch(client, user, AGENT_TASKS, ctx)
    assert ids_of(page) == mine[::-1]
    assert page["totalCount"] == 3
    adds = await fetch(client, user, AGENT_TASKS, ctx, filter=Lit('{taskType: ["add"]}'))
    assert ids_of(adds) == [mine[2], mine[0]]
    assert adds["totalCount"] == 2
    theirs = await fetch(client, stranger, AGENT_TASKS, ctx)
    assert theirs["totalCount"] == 1
    assert set(ids_of(theirs)).isdisjoint(mine)


# ---------------------------------------------------------------------------------------------------
# integrations


async def test_integration_filters_and_removed_integrations(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    ids = {
        provider: f.gid("Integration", await f.integration(pg, user.pk, provider=provider, status=status))
        for provider, status in (
            ("gmail", "connected"),
            ("slack", "error"),
            ("outlook", "expired"),
            ("hubspot", "connected"),
            ("google_calendar", "connected"),
        )
    }
    await pg.execute("UPDATE integrations SET deleted_at = now() WHERE id = $1", pk(ids["google_calendar"]))
    cases = {
        None: [ids["gmail"], ids["hubspot"], ids["outlook"], ids["slack"]],
        "{provider: [GMAIL, SLACK]}": [ids["gmail"], ids["slack"]],
        "{provider: [GOOGLE_CALENDAR]}": [],
        "{status: [CONNECTED]}": [ids["gmail"], ids["hubspot"]],
        "{status: [ERROR, EXPIRED]}": [ids["outlook"], ids["slack"]],
        "{provider: [GMAIL, OUTLOOK], status: [CONNECTED]}": [ids["gmail"]],
        "{status: [DISCONNECTED]}": [],
    }
    for filter_text, expected in cases.items():
        args = {} if filter_text is None else {"filter": Lit(filter_text)}
        page = await fetch(client, user, INTEGRATIONS, {}, **args)
        assert ids_of(page) == expected, filter_text
        assert page["totalCount"] == len(expected), filter_text


async def test_integration_orders(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    ids = {}
    for minutes, provider in enumerate(("slack", "gmail", "outlook", "hubspot")):
        row = await f.integration(pg, user.pk, provider=provider)
        await pg.execute(
            "UPDATE integrations SET connected_at = $2 WHERE id = $1", row, f.BASE_TIME + timedelta(minutes=minutes)
        )
        ids[provider] = f.gid("Integration", row)
    by_provider = [ids[p] for p in PROVIDERS if p in ids]
    newest_first = [ids["hubspot"], ids["outlook"], ids["gmail"], ids["slack"]]
    assert ids_of(await fetch(client, user, INTEGRATIONS, {})) == by_provider
    order = Lit("CONNECTED_AT_DESC")
    assert ids_of(await fetch(client, user, INTEGRATIONS, {}, orderBy=order)) == newest_first
    assert await walk_forward(client, user, INTEGRATIONS, {}, size=3, total=4, orderBy=order) == newest_first
    assert await walk_backward(client, user, INTEGRATIONS, {}, size=3, total=4) == by_provider


# ---------------------------------------------------------------------------------------------------
# agents


async def test_agent_orders(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    capability = unique("cap")
    prefix = unique("zz-order")
    ids = {}
    for minutes, letter in enumerate("bca"):
        row = await f.agent(pg, name=f"{prefix}-{letter}", capabilities=[{"name": capability}])
        await pg.execute(
            "UPDATE mcp_agents SET created_at = $2 WHERE id = $1", row, f.BASE_TIME + timedelta(minutes=minutes)
        )
        ids[letter] = f.gid("MCPAgent", row)
    ctx = {"capability": capability}
    assert ids_of(await fetch(client, user, AGENTS, ctx)) == [ids["a"], ids["b"], ids["c"]]
    assert ids_of(await fetch(client, user, AGENTS, ctx, orderBy=Lit("NAME_DESC"))) == [ids["c"], ids["b"], ids["a"]]
    assert ids_of(await fetch(client, user, AGENTS, ctx, orderBy=Lit("CREATED_AT_DESC"))) == [
        ids["a"],
        ids["c"],
        ids["b"],
    ]
    assert await walk_forward(client, user, AGENTS, ctx, size=2, total=3, orderBy=Lit("NAME_DESC")) == [
        ids["c"],
        ids["b"],
        ids["a"],
    ]
    assert await walk_backward(client, user, AGENTS, ctx, size=2, total=3, orderBy=Lit("CREATED_AT_DESC")) == [
        ids["a"],
        ids["c"],
        ids["b"],
    ]


async def test_agent_filters_and_removed_agents(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    capability, other = unique("cap"), unique("cap")
    prefix = unique("zz-filter")

    async def agent(letter: str, status: str, health: str, capabilities: list[str]) -> str:
        row = await f.agent(
            pg,
            name=f"{prefix}-{letter}",
            status=status,
            capabilities=[{"name": name, "description": name} for name in capabilities],
        )
        await pg.execute("UPDATE mcp_agents SET health_status = $2 WHERE id = $1", row, health)
        return f.gid("MCPAgent", row)

    a = await agent("a", "active", "healthy", [capability])
    b = await agent("b", "inactive", "unhealthy", [other, capability])
    c = await agent("c", "error", "unknown", [capability])
    d = await agent("d", "active", "healthy", [capability])
    e = await agent("e", "active", "healthy", [other])
    await pg.execute("UPDATE mcp_agents SET deleted_at = now() WHERE id = $1", pk(d))
    cases = {
        f'{{capability: "{capability}"}}': [a, b, c],
        f'{{capability: "{other}"}}': [b, e],
        f'{{capability: "{capability}", status: [ACTIVE]}}': [a],
        f'{{capability: "{capability}", status: [INACTIVE, ERROR]}}': [b, c],
        f'{{capability: "{capability}", healthStatus: [HEALTHY, UNKNOWN]}}': [a, c],
        f'{{capability: "{capability}", status: [ACTIVE], healthStatus: [UNHEALTHY]}}': [],
    }
    for filter_text, expected in cases.items():
        page = await fetch(client, user, REGISTRY, {}, filter=Lit(filter_text))
        assert ids_of(page) == expected, filter_text
        assert page["totalCount"] == len(expected), filter_text
