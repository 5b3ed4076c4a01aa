"""Query cost on a real `gateway serve`: flooding the query that once built 100,000 objects (5 s each,
`/healthz` stalled for 4.7 s) is refused at the door, so the event loop stays free; and sockets are
held to the same limit as HTTP, for queries and subscriptions."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from graph.node import decode_global_id
from tests.conftest import create_database, drop_database, signing_keys_json
from tests.graph.test_cost import ATTACK
from tests.graphql_client import PASSWORD, REGISTER
from tests.live import LiveServer, gateway_env, live_server
from tests.ws import transport_ws

FLOOD_SECONDS = 3.0
FLOODERS = 4
CREATE_SESSION = """mutation { createChatSession(input: {title: "costly"}) { chatSession { id } errors { code } } }"""
HEAVY_SUBSCRIPTION = """subscription($id: ID!) { messageAdded(sessionId: $id) { session {
  messages(first: 100) { nodes { session { messages(first: 100) { nodes { id } } } } } } } }"""


@pytest.fixture(scope="module")
def database(pg_server_url: str) -> Iterator[str]:
    from migrations import migrate

    url = create_database(pg_server_url, "gateway_cost")
    migrate.upgrade(url)
    yield url
    drop_database(pg_server_url, url)


@pytest.fixture(scope="module")
def server(database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("cost"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
    )
    with live_server(env, log=tmp_path_factory.mktemp("logs") / "cost.log") as running:
        yield running


async def fill(database: str, session: str, messages: int) -> None:
    """Committed messages, so the attack would have real work to do if it ran."""
    connection = await asyncpg.connect(database.replace("+asyncpg", ""))
    try:
        await connection.execute(
            """INSERT INTO messages (session_id, role, content, timestamp, metadata, seq)
               SELECT $1, 'user', 'message ' || i, now(), '{}'::jsonb, i FROM generate_series(1, $2) AS i""",
            decode_global_id(session)[1],
            messages,
        )
        await connection.execute(
            "UPDATE chat_sessions SET message_count = $2 WHERE id = $1", decode_global_id(session)[1], messages
        )
    finally:
        await connection.close()


async def sign_up_with_a_session(http: httpx.AsyncClient) -> tuple[str, str]:
    fields = {
        "email": f"cost-{uuid.uuid4().hex[:10]}@example.com",
        "password": PASSWORD,
        "firstName": "Ada",
        "lastName": "Lovelace",
    }
    registered = (await http.post("/graphql", json={"query": REGISTER, "variables": {"input": fields}})).json()
    token = registered["data"]["register"]["accessToken"]
    created = (
        await http.post("/graphql", json={"query": CREATE_SESSION}, headers={"Authorization": f"Bearer {token}"})
    ).json()
    return token, created["data"]["createChatSession"]["chatSession"]["id"]


async def sql_statements(http: httpx.AsyncClient) -> int:
    metrics = (await http.get("/metrics")).text
    found = re.search(r"^gateway_sql_statements_total ([0-9.e+]+)$", metrics, re.MULTILINE)
    assert found is not None, metrics
    return int(float(found.group(1)))


async def test_a_flood_of_the_attack_is_refused_without_sql_and_healthz_stays_prompt(
    server: LiveServer, database: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        token, session = await sign_up_with_a_session(http)
        await fill(database, session, 100)
        body = {"query": ATTACK, "variables": {"ids": [session] * 10}}
        before = await sql_statements(http)
        deadline = time.monotonic() + FLOOD_SECONDS
        answers: list[dict[str, Any]] = []

        async def flood() -> None:
            while time.monotonic() < deadline:
                response = await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
                answers.append(response.json())

        async def probe() -> list[float]:
            waits = []
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert (await http.get("/healthz")).status_code == 200
                waits.append(time.monotonic() - started)
                await asyncio.sleep(0.05)
            return waits

        *_, waits = await asyncio.gather(*(flood() for _ in range(FLOODERS)), probe())
        after = await sql_statements(http)

    assert len(answers) > 10
    unrefused = {"extensions": {"code": None}}
    codes = {error["extensions"]["code"] for answer in answers for error in answer.get("errors") or [unrefused]}
    assert codes == {"QUERY_TOO_COMPLEX"}
    assert all(answer["data"] is None for answer in answers)
    assert after == before  # no statement ran for any of them
    # Generous, for a loaded machine: a refusal takes about a millisecond, so /healthz keeps answering
    # all along; the attack itself held the loop for seconds per query (3 probes in 3 s, one 3.3 s).
    assert len(waits) >= 10, waits
    assert statistics.median(waits) < 0.5, waits


async def test_sockets_are_held_to_the_same_limit(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        token, session = await sign_up_with_a_session(http)
    async with transport_ws(server.ws_url, token) as socket:
        await socket.subscribe("heavy", HEAVY_SUBSCRIPTION, {"id": session})
        refused = await socket.receive("heavy")
        await socket.subscribe("query", ATTACK, {"ids": [session] * 10})
        refused_query = await socket.receive("query")
        await socket.subscribe(
            "light", "subscription($id: ID!) { messageAdded(sessionId: $id) { id } }", {"id": session}
        )
        assert await socket.nothing_for("light", 0.5)  # accepted: waits for messages
    for message in (refused, refused_query):
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX", message
        assert errors[0]["extensions"]["limit"] == 10_000
