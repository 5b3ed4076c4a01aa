"""The whole process: `gateway serve` on a real port, its endpoints, both WebSocket protocols, and the
demo data. Uses committed data in a database of its own."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.conftest import create_database, drop_database, signing_keys_json
from tests.live import GATEWAY, LiveServer, gateway_env, live_server

VIEWER = "{ viewer { email chatSessions(first: 10) { totalCount edges { node { title } } } } }"
LOGIN = """mutation($input: LoginInput!) { login(input: $input) { accessToken errors { code } } }"""


@pytest.fixture(scope="module")
def server_env(
    pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    database = create_database(pg_server_url, "gateway_serve")
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("serve"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
    )
    yield env
    drop_database(pg_server_url, database)


@pytest.fixture(scope="module")
def server(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(server_env, log=tmp_path_factory.mktemp("logs") / "serve.log") as running:
        yield running


@pytest.fixture(scope="module")
def demo_token(server: LiveServer, server_env: dict[str, str]) -> str:
    seeded = subprocess.run(
        [GATEWAY, "seed-demo"], env=server_env, capture_output=True, text=True, timeout=120, check=True
    )
    assert "demo@assistant.example" in seeded.stdout
    reply = httpx.post(
        f"{server.url}/graphql",
        json={"query": LOGIN, "variables": {"input": {"email": "demo@assistant.example", "password": "Demo-Passw0rd"}}},
    ).json()
    assert reply["data"]["login"]["errors"] == []
    return str(reply["data"]["login"]["accessToken"])


def test_health_readiness_and_metrics(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready", "postgres": "ok", "redis": "ok"}
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "gateway_sql_statements_total" in metrics
    assert "process_resident_memory_bytes" in metrics


def test_graphiql_for_browsers_and_queries_via_get(server: LiveServer) -> None:
    page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    answer = httpx.get(f"{server.url}/graphql", params={"query": "{ viewer { id } }"})
    assert answer.json() == {"data": {"viewer": None}}


def test_jwks_publishes_the_signing_key(server: LiveServer, demo_token: str) -> None:
    keys = httpx.get(f"{server.url}/.well-known/jwks.json").json()["keys"]
    head = json.loads(base64.urlsafe_b64decode(demo_token.split(".")[0] + "=="))
    assert head["alg"] == "Ed25519"
    assert head["kid"] in {key["kid"] for key in keys}
    assert all("d" not in key for key in keys)  # public halves only


def test_seed_demo_gives_a_signed_in_user_something_to_see(server: LiveServer, demo_token: str) -> None:
    reply = httpx.post(
        f"{server.url}/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {demo_token}"}
    ).json()
    viewer = reply["data"]["viewer"]
    assert viewer["email"] == "demo@assistant.example"
    assert viewer["chatSessions"]["totalCount"] >= 4
    assert viewer["chatSessions"]["edges"][0]["node"]["title"]


async def test_graphql_transport_ws_runs_operations_for_the_token_in_connection_init(
    server: LiveServer, demo_token: str
) -> None:
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {demo_token}"}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": VIEWER}}))
        message = json.loads(await socket.recv())
        assert message["type"] == "next"
        assert message["payload"]["data"]["viewer"]["email"] == "demo@assistant.example"
        assert json.loads(await socket.recv())["type"] == "complete"


async def test_legacy_graphql_ws_acknowledges_a_valid_token_and_refuses_a_bad_one(
    server: LiveServer, demo_token: str
) -> None:
    # strawberry's legacy `graphql-ws` handler carries subscriptions only (no queries over the socket);
    # what it must share with graphql-transport-ws is who may connect.
    async with websockets.connect(server.ws_url, subprotocols=["graphql-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {demo_token}"}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
    async with websockets.connect(server.ws_url, subprotocols=["graphql-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer x"}}))
        assert json.loads(await socket.recv())["type"] == "connection_error"
        with pytest.raises(ConnectionClosed):
            await socket.recv()


async def test_a_bad_token_in_connection_init_closes_the_socket_with_4403(server: LiveServer) -> None:
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nope"}}))
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_an_anonymous_socket_is_refused(server: LiveServer) -> None:
    """Every subscription needs a user: `connection_init` without a token closes with 4403."""
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


def test_export_schema_check_fails_on_drift(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { stale: Int }\n")
    drift = subprocess.run(
        [GATEWAY, "export-schema", "--check", "--path", str(stale)], capture_output=True, text=True, timeout=60
    )
    assert drift.returncode == 1 and "out of date" in drift.stderr
    subprocess.run([GATEWAY, "export-schema", "--path", str(stale)], check=True, timeout=60, capture_output=True)
    assert (
        subprocess.run(
            [GATEWAY, "export-schema", "--check", "--path", str(stale)], timeout=60, capture_output=True
        ).returncode
        == 0
    )


def test_committed_schema_is_current() -> None:
    from graph.schema import printed_schema

    committed = Path(__file__).resolve().parents[1] / "schema.graphql"
    assert committed.read_text() == printed_schema(), "schema.graphql drifted: run `gateway export-schema`"
