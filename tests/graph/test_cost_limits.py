"""Query cost at the door, over HTTP against real PostgreSQL and Redis: an operation that could build
more objects than `GATEWAY_MAX_QUERY_COST` is refused before any SQL runs; ordinary reads pass; each
user (or anonymous address) spends a cost budget per window in Redis; `nodes(ids:)` loads a repeated
ID once."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from gateway.settings import Settings
from graph.app import create_app
from services.cost_budget import subject_key
from services.resources import Resources
from tests import factories
from tests.factories import gid
from tests.graph.test_cost import ATTACK, SESSIONS_AND_MESSAGES, TOUR
from tests.graphql_client import GraphQLClient, SignedUp, StatementCounter
from tests.live import free_port

SESSIONS_PAGE = "query($n: Int) { viewer { chatSessions(first: $n) { nodes { id } } } }"  # costs 3 + n


@pytest.fixture
def build_app(resources: Resources, tmp_path: Path) -> Callable[..., Starlette]:
    """An app over the run's database and Redis with other settings (same signing keys)."""

    def build(resources_: Resources = resources, **env: Any) -> Starlette:
        settings = Settings(
            GATEWAY_DATA_DIR=str(tmp_path), GATEWAY_JWT_PRIVATE_KEYS=resources.settings.jwt_private_keys, **env
        )
        return create_app(dataclasses.replace(resources_, settings=settings))

    return build


async def own_session(pg: asyncpg.Connection, user: SignedUp) -> str:
    session = await factories.session(pg, user.pk)
    await factories.message(pg, session)
    return gid("ChatSession", session)


def too_complex(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    return error


# --- the per-operation limit -----------------------------------------------------------------------


async def test_the_nested_nodes_attack_is_refused_before_any_sql(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: StatementCounter
) -> None:
    session = await own_session(pg, user)
    sql_counter.reset()
    body = await client.execute(ATTACK, {"ids": [session] * 10}, token=user.token)
    error = too_complex(body)
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 103_021, "limit": 10_000}
    assert "103021" in error["message"] and "10000" in error["message"]
    assert sql_counter.statements == []


async def test_a_hostile_page_size_deep_down_is_costed_at_the_most_a_page_holds(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: StatementCounter
) -> None:
    session = await own_session(pg, user)
    hostile = ATTACK.replace("first: 100", "first: 100000")
    sql_counter.reset()
    error = too_complex(await client.execute(hostile, {"ids": [session] * 10}, token=user.token))
    assert error["extensions"]["cost"] == 103_021
    assert sql_counter.statements == []
    # alone it is cheap, and the resolver refuses the size itself
    body = await client.execute("{ viewer { chatSessions(first: 100000) { nodes { id } } } }", token=user.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_page_sizes_in_variables_are_costed(
    client: GraphQLClient, user: SignedUp, sql_counter: StatementCounter
) -> None:
    query = """query($n: Int) { viewer { chatSessions(first: $n) { nodes {
      messages(first: $n) { nodes { id } } } } } }"""
    sql_counter.reset()
    error = too_complex(await client.execute(query, {"n": 100}, token=user.token))
    assert error["extensions"]["cost"] == 1 + 1 + 1 + 100 + 100 * 101
    assert sql_counter.statements == []
    # the same document with a smaller page runs (the cost cache keys on the variables)
    assert await client.data(query, {"n": 20}, token=user.token) == {"viewer": {"chatSessions": {"nodes": []}}}


async def test_fragments_do_not_hide_the_cost(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: StatementCounter
) -> None:
    session = await own_session(pg, user)
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { ...S } }
      fragment S on ChatSession { messages(first: 100) { nodes { ... on Message { session { ...T } } } } }
      fragment T on ChatSession { messages(first: 100) { nodes { id } } }"""
    sql_counter.reset()
    too_complex(await client.execute(query, {"ids": [session] * 10}, token=user.token))
    assert sql_counter.statements == []


async def test_mutations_are_costed_before_they_run(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: StatementCounter
) -> None:
    session_pk = await factories.session(pg, user.pk)
    mutation = """mutation($s: ID!) { sendMessage(input: {sessionId: $s, content: "hi"}) { message { session {
      messages(first: 100) { nodes { session { messages(first: 100) { nodes { id } } } } } } } } }"""
    sql_counter.reset()
    error = too_complex(await client.execute(mutation, {"s": gid("ChatSession", session_pk)}, token=user.token))
    assert error["extensions"]["cost"] == 1 + 1 + 1 + 1 + 101 + 100 * (1 + 101)
    assert sql_counter.statements == []
    assert await pg.fetchval("SELECT count(*) FROM messages WHERE session_id = $1", session_pk) == 0


async def test_the_readme_tour_and_100_sessions_of_20_messages_pass(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    sessions = await pg.fetch(
        """INSERT INTO chat_sessions (user_id, title, status, last_activity_at, created_at, context_data,
                                      message_count)
           SELECT $1, 'Session ' || i, 'active', now() - i * interval '1 minute', now(), '{}'::jsonb, 20
           FROM generate_series(1, 100) AS i RETURNING id""",
        user.pk,
    )
    await pg.execute(
        """INSERT INTO messages (session_id, role, content, timestamp, metadata, seq)
           SELECT s.id, 'user', 'message ' || i, now(), '{}'::jsonb, i
           FROM unnest($1::uuid[]) AS s(id), generate_series(1, 20) AS i""",
        [row["id"] for row in sessions],
    )
    data = await client.data(SESSIONS_AND_MESSAGES, token=user.token)
    edges = data["viewer"]["chatSessions"]["edges"]
    assert len(edges) == 100
    assert all(len(edge["node"]["messages"]["edges"]) == 20 for edge in edges)
    tour = await client.data(TOUR, token=user.token)
    assert len(tour["viewer"]["chatSessions"]["edges"]) == 10


async def test_the_limit_is_a_setting(build_app: Callable[..., Starlette], user: SignedUp) -> None:
    app = build_app(GATEWAY_MAX_QUERY_COST="50")
    async with GraphQLClient.over_asgi(app) as client:
        error = too_complex(await client.execute(SESSIONS_PAGE, {"n": 48}, token=user.token))
        assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 51, "limit": 50}
        assert "errors" not in await client.execute(SESSIONS_PAGE, {"n": 47}, token=user.token)


# --- the budget over time ---------------------------------------------------------------------------


async def test_each_user_spends_a_budget_per_window(
    build_app: Callable[..., Starlette], client: GraphQLClient, sql_counter: StatementCounter
) -> None:
    app = build_app(GATEWAY_COST_BUDGET="250", GATEWAY_COST_WINDOW_SECONDS="60")
    spender, other = await client.register(), await client.register()
    async with GraphQLClient.over_asgi(app) as budgeted:
        for _ in range(2):  # 2 x 103
            assert "errors" not in await budgeted.execute(SESSIONS_PAGE, {"n": 100}, token=spender.token)
        sql_counter.reset()
        body = await budgeted.execute(SESSIONS_PAGE, {"n": 100}, token=spender.token)
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert 1 <= error["extensions"]["retryAfter"] <= 60
        assert sql_counter.statements == []  # refused before running
        # a refusal spends nothing: what is left (250 - 206) still pays for a smaller read
        assert "errors" not in await budgeted.execute(SESSIONS_PAGE, {"n": 40}, token=spender.token)
        # someone else is not affected
        assert "errors" not in await budgeted.execute(SESSIONS_PAGE, {"n": 100}, token=other.token)


async def test_anonymous_clients_spend_per_address(build_app: Callable[..., Starlette]) -> None:
    app = build_app(GATEWAY_COST_BUDGET="5")
    query = "{ a: viewer { id } b: viewer { id } }"  # costs 3
    async with GraphQLClient.over_asgi(app) as first, GraphQLClient.over_asgi(app) as second:
        assert "errors" not in await first.execute(query)
        assert (await first.execute(query))["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert "errors" not in await second.execute(query)


async def test_budget_keys_are_hashes_and_a_refusal_leaves_no_key(
    build_app: Callable[..., Starlette], resources: Resources, user: SignedUp
) -> None:
    app = build_app(GATEWAY_COST_BUDGET="10", GATEWAY_MAX_QUERY_COST="1000")
    key = subject_key(f"user:{user.pk}")
    async with GraphQLClient.over_asgi(app) as client:
        body = await client.execute(SESSIONS_PAGE, {"n": 20}, token=user.token)  # 23 > the whole budget
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert not await resources.redis.exists(key)
        assert "errors" not in await client.execute(SESSIONS_PAGE, {"n": 2}, token=user.token)
    assert await resources.redis.get(key) == "5"
    assert str(user.pk) not in key and len(key) == len("ratelimit:cost:") + 32


async def test_without_redis_reads_go_on_and_one_warning_is_logged(
    build_app: Callable[..., Starlette], resources: Resources, caplog: pytest.LogCaptureFixture
) -> None:
    dead = Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", decode_responses=True, socket_timeout=1, socket_connect_timeout=1
    )
    app = build_app(dataclasses.replace(resources, redis=dead))
    caplog.set_level(logging.WARNING, logger="gateway.cost")
    caplog.set_level(logging.WARNING, logger="gateway.graph")
    try:
        async with GraphQLClient.over_asgi(app) as client:
            for _ in range(3):
                assert await client.data("{ viewer { id } }") == {"viewer": None}
    finally:
        await dead.aclose()
    warnings = [record for record in caplog.records if "budget" in record.getMessage()]
    assert len(warnings) == 1


# --- repeated IDs -----------------------------------------------------------------------------------


async def test_repeated_ids_are_loaded_once_and_answered_in_order(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: StatementCounter
) -> None:
    session_pk = await factories.session(pg, user.pk)
    session = gid("ChatSession", session_pk)
    message = gid("Message", await factories.message(pg, session_pk, content="first"))
    missing = gid("ChatSession", uuid.uuid4())
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"

    sql_counter.reset()
    await client.data(query, {"ids": [session, message]}, token=user.token)
    once = sql_counter.count

    sql_counter.reset()
    ids = [session, message, session, missing, session, message, missing]
    data = await client.data(query, {"ids": ids}, token=user.token)
    assert sql_counter.count == once
    assert [node and node["id"] for node in data["nodes"]] == [session, message, session, None, session, message, None]
