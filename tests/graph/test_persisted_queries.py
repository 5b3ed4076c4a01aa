"""Persisted queries as clients use them: Apollo's automatic persisted queries (hash first, register on
`PersistedQueryNotFound`, then the hash alone, also by GET) and trusted documents, where nothing but the
manifest's operations runs, over HTTP and WebSocket."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.app import create_app
from services.resources import Resources
from tests.conftest import create_database, drop_database, signing_keys_json
from tests.graphql_client import PASSWORD, REGISTER, GraphQLClient, SignedUp
from tests.live import LiveServer, gateway_env, live_server
from tests.ws import transport_ws

VIEWER = "query Viewer { viewer { email } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(digest: str, query: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}, **extra}
    if query is not None:
        body["query"] = query
    return body


def bearer(user: SignedUp) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


async def test_the_automatic_persisted_query_round_trip(client: GraphQLClient) -> None:
    user = await client.register()
    query = f"query Mine {{ viewer {{ email }} }} # {uuid.uuid4().hex}"  # a text no other test registered
    digest = sha256(query)

    first = await client.http.post("/graphql", json=apq(digest), headers=bearer(user))
    assert first.status_code == 200
    assert first.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert first.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    registered = await client.http.post("/graphql", json=apq(digest, query), headers=bearer(user))
    assert registered.json() == {"data": {"viewer": {"email": user.email}}}

    by_hash = await client.http.post("/graphql", json=apq(digest), headers=bearer(user))
    assert by_hash.json() == {"data": {"viewer": {"email": user.email}}}
    # by GET, as a CDN would cache it
    by_get = await client.http.get(
        "/graphql",
        params={"extensions": json.dumps(apq(digest)["extensions"])},
        headers={**bearer(user), "Accept": "*/*"},
    )
    assert by_get.status_code == 200 and by_get.json() == {"data": {"viewer": {"email": user.email}}}


async def test_an_unknown_hash_and_a_hash_that_does_not_match(client: GraphQLClient) -> None:
    unknown = await client.http.post("/graphql", json=apq("0" * 64))
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    mismatch = await client.http.post("/graphql", json=apq("1" * 64, VIEWER))
    assert mismatch.status_code == 400
    assert mismatch.json()["errors"][0]["message"] == "provided sha does not match query"

    malformed = await client.http.post("/graphql", json=apq("not-a-hash"))
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_an_invalid_document_is_never_registered(client: GraphQLClient, resources: Resources) -> None:
    invalid = f"{{ viewer {{ noSuchField }} }} # {uuid.uuid4().hex}"
    digest = sha256(invalid)
    answered = await client.http.post("/graphql", json=apq(digest, invalid))
    assert answered.json()["errors"][0]["message"].startswith("Cannot query field")
    assert await resources.redis.exists(f"apq:document:{digest}") == 0
    again = await client.http.post("/graphql", json=apq(digest))
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.fixture
async def trusted_client(resources: Resources, tmp_path: Path) -> Any:
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({f"sha256:{sha256(VIEWER)}": VIEWER}))
    settings = resources.settings.model_copy(update={"trusted_documents": manifest})
    async with GraphQLClient.over_asgi(create_app(dataclasses.replace(resources, settings=settings))) as connected:
        yield connected


async def test_trusted_documents_run_by_hash_and_refuse_everything_else(
    client: GraphQLClient, trusted_client: GraphQLClient
) -> None:
    user = await client.register()
    digest = sha256(VIEWER)
    expected = {"data": {"viewer": {"email": user.email}}}

    as_document_id = await trusted_client.http.post(
        "/graphql", json={"documentId": f"sha256:{digest}"}, headers=bearer(user)
    )
    assert as_document_id.json() == expected
    as_apq = await trusted_client.http.post("/graphql", json=apq(digest), headers=bearer(user))
    assert as_apq.json() == expected

    other = "{ viewer { id } }"
    for refused in (
        await trusted_client.http.post("/graphql", json={"query": other}, headers=bearer(user)),
        await trusted_client.http.post("/graphql", json=apq(sha256(other), other), headers=bearer(user)),
    ):
        assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
        assert "data" not in refused.json() or refused.json()["data"] is None
    unknown = await trusted_client.http.post("/graphql", json={"documentId": sha256(other)}, headers=bearer(user))
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_manifest_entry_whose_key_is_not_its_hash_stops_start_up(resources: Resources, tmp_path: Path) -> None:
    manifest = tmp_path / "forged.json"
    manifest.write_text(json.dumps({sha256("{ viewer { id } }"): "mutation { deleteAccount }"}))
    settings = resources.settings.model_copy(update={"trusted_documents": manifest})
    with pytest.raises(SystemExit, match="not the sha256"):
        create_app(dataclasses.replace(resources, settings=settings))


async def test_registrations_per_address_are_limited(resources: Resources) -> None:
    async with GraphQLClient.over_asgi(create_app(resources)) as client:
        digests = []
        for _ in range(62):
            query = f"{{ __typename }} # {uuid.uuid4().hex}"
            digests.append(sha256(query))
            answered = await client.http.post("/graphql", json=apq(digests[-1], query))
            assert answered.json() == {"data": {"__typename": "Query"}}  # over the rate it still runs
    stored = [await resources.redis.exists(f"apq:document:{digest}") for digest in digests]
    assert sum(stored) == 60 and stored[-2:] == [0, 0]


SUBSCRIPTION = "subscription Tasks { taskUpdated { id } }"


@pytest.fixture(scope="module")
def trusted_server(
    pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    manifest = tmp_path_factory.mktemp("trusted") / "manifest.json"
    manifest.write_text(json.dumps({sha256(text): text for text in (VIEWER, REGISTER, SUBSCRIPTION)}))
    database = create_database(pg_server_url, "gateway_trusted")
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("trusted-data"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
        GATEWAY_TRUSTED_DOCUMENTS=str(manifest),
    )
    try:
        with live_server(env, log=tmp_path_factory.mktemp("logs") / "serve.log") as running:
            yield running
    finally:
        drop_database(pg_server_url, database)


async def test_a_socket_runs_only_trusted_documents(trusted_server: LiveServer) -> None:
    email = f"trusted-{uuid.uuid4().hex[:10]}@example.com"
    fields = {"email": email, "password": PASSWORD, "firstName": "Tru", "lastName": "Sted"}
    async with httpx.AsyncClient(base_url=trusted_server.url) as http:
        registered = await http.post("/graphql", json={"documentId": sha256(REGISTER), "variables": {"input": fields}})
    token = registered.json()["data"]["register"]["accessToken"]
    async with transport_ws(trusted_server.ws_url, token) as socket:
        await socket.subscribe("untrusted", "subscription { taskUpdated { status } }")
        refused = await socket.receive("untrusted")
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
        await socket.subscribe("trusted", SUBSCRIPTION)
        assert await socket.nothing_for("trusted", 0.5)  # subscribed, waiting for events
