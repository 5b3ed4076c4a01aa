"""The GraphQL over HTTP spec: its own audit suite (the `graphql-http` npm package's `auditServer`) against a
real `gateway serve`, with no MUST error and no SHOULD warning; and the response media type a client asks
for: `application/graphql-response+json` (request errors are HTTP 400 without `data`) or `application/json`
(HTTP 200 for every GraphQL answer, as before)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import create_database, drop_database, signing_keys_json
from tests.graphql_client import GraphQLClient
from tests.live import LiveServer, gateway_env, live_server

JS = Path(__file__).resolve().parents[1] / "js"
GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture(scope="module")
def server(pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    database = create_database(pg_server_url, "gateway_http_spec")
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("http-spec"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
    )
    try:
        with live_server(env, log=tmp_path_factory.mktemp("logs") / "serve.log") as running:
            yield running
    finally:
        drop_database(pg_server_url, database)


def test_the_graphql_over_http_audit_passes_without_warnings(server: LiveServer) -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js runs the audit (.ci/run installs it)"
    if not (JS / "node_modules" / "graphql-http").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300, capture_output=True)
    ran = subprocess.run(
        [node, str(JS / "audit.mjs"), f"{server.url}/graphql"], capture_output=True, text=True, timeout=120, check=True
    )
    results = [json.loads(line) for line in ran.stdout.splitlines()]
    assert len(results) >= 50
    # no MUST error, no SHOULD warning (a MAY is a notice)
    assert [result for result in results if result["status"] in ("error", "warn")] == []


async def test_request_errors_under_the_graphql_response_media_type(client: GraphQLClient) -> None:
    asked = {"Accept": GRAPHQL_RESPONSE}
    ok = await client.http.post("/graphql", json={"query": "{ __typename }"}, headers=asked)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert ok.json() == {"data": {"__typename": "Query"}}

    for body in (
        {"query": "{ viewer { "},  # does not parse
        {"query": "{ noSuchField }"},  # does not validate
        {"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": 1.5}},  # does not coerce
    ):
        refused = await client.http.post("/graphql", json=body, headers=asked)
        assert refused.status_code == 400, body
        assert refused.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert "data" not in refused.json() and refused.json()["errors"]

    # a parameter of the wrong type is the client's error, said in our words (once a Python TypeError leaked)
    for name in ({"a": 1}, 7, True, ["x"]):
        odd = await client.http.post("/graphql", json={"query": "{ __typename }", "operationName": name})
        assert odd.status_code == 400 and "expected string" not in odd.text

    # a JSON client keeps HTTP 200 and `data: null`
    legacy = await client.http.post("/graphql", json={"query": "{ noSuchField }"})
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith("application/json")
    assert legacy.json()["data"] is None


async def test_a_subscription_sent_over_http_is_told_where_subscriptions_are_served(client: GraphQLClient) -> None:
    """A subscription POSTed (a client whose socket detection misfired) gets a typed error that says where
    subscriptions go, not "Unexpected error." (it ran as a query and failed on a null)."""
    user = await client.register()
    created = await client.data("mutation { createChatSession(input: {}) { chatSession { id } } }", token=user.token)
    session_id = created["createChatSession"]["chatSession"]["id"]
    for document in (
        f'subscription {{ messageAdded(sessionId: "{session_id}") {{ content }} }}',
        "subscription { notifications { __typename } }",
    ):
        body = (await client.post(document, token=user.token)).json()
        assert body["data"] is None, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST" and "WebSocket" in error["message"], error
