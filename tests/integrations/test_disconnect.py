"""Disconnecting: RFC 7009 revocation (best effort, outcome recorded), tokens emptied, DISCONNECTED with
deletedAt, listed only on request, reconnect later; and `integrationUpdated` pushing every status change."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from graph.node import global_id
from resolvers.integration_vault import Vault
from tests.graphql_client import GraphQLClient, SignedUp
from tests.integrations.auth_server import RunningAuthServer
from tests.integrations.conftest import DISCONNECT, Browser, integrations_of
from tests.integrations.test_vault import connected, history
from tests.ws import transport_ws

UPDATED = """subscription($id: ID) {
  integrationUpdated(integrationId: $id) { id provider status metadata { lastError { code } } }
}"""


async def disconnect(gql: GraphQLClient, user: SignedUp, integration_id: str) -> dict[str, Any]:
    data = await gql.data(DISCONNECT, {"input": {"integrationId": integration_id}}, token=user.token)
    return data["disconnectIntegration"]  # type: ignore[no-any-return]


async def test_disconnect_revokes_empties_the_tokens_and_reconnecting_works(
    gql: GraphQLClient, browser: Browser, member: SignedUp, oauth: RunningAuthServer, pg: asyncpg.Connection
) -> None:
    pk = await connected(gql, browser, member)
    row = await pg.fetchrow("SELECT * FROM integrations WHERE id = $1", pk)
    refresh_tokens = set(oauth.state.refresh)
    payload = await disconnect(gql, member, global_id("Integration", pk))
    assert payload["errors"] == [] and payload["integration"]["status"] == "DISCONNECTED"
    assert payload["integration"]["deletedAt"] is not None  # when the 90 days of retention start
    assert oauth.state.revoked[-1] == "refresh_token" and len(refresh_tokens - set(oauth.state.refresh)) == 1
    row = await pg.fetchrow("SELECT * FROM integrations WHERE id = $1", pk)
    assert row["status"] == "disconnected" and row["deleted_at"] is not None
    assert row["encrypted_tokens"] == "" and row["refresh_token_encrypted"] is None
    assert await history(pg, pk) == [("revoke", "ok", None)]
    assert await integrations_of(gql, member) == []
    [listed] = await integrations_of(gql, member, status=["DISCONNECTED"])
    assert listed["status"] == "DISCONNECTED"
    # Again: it is gone for the user (NOT_FOUND, as for any unknown id).
    again = await disconnect(gql, member, global_id("Integration", pk))
    assert [(e["field"], e["code"]) for e in again["errors"]] == [("input.integrationId", "NOT_FOUND")]
    assert await connected(gql, browser, member) == pk
    row = await pg.fetchrow("SELECT status, deleted_at FROM integrations WHERE id = $1", pk)
    assert row["status"] == "connected" and row["deleted_at"] is None


async def test_someone_elses_or_an_unknown_integration_is_not_found(
    gql: GraphQLClient, browser: Browser, member: SignedUp, pg: asyncpg.Connection
) -> None:
    pk = await connected(gql, browser, member)
    stranger = await gql.register()
    for target in (global_id("Integration", pk), "not-an-id", global_id("Task", pk)):
        payload = await disconnect(gql, stranger, target)
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"], target
    assert await pg.fetchval("SELECT status FROM integrations WHERE id = $1", pk) == "connected"


async def test_revocation_is_best_effort_and_its_outcome_recorded(
    gql: GraphQLClient, browser: Browser, member: SignedUp, oauth: RunningAuthServer, pg: asyncpg.Connection
) -> None:
    oauth.state.fail_revoke = True
    gmail = await connected(gql, browser, member)
    hubspot = await connected(gql, browser, member, "hubspot")
    for pk in (gmail, hubspot):
        payload = await disconnect(gql, member, global_id("Integration", pk))
        assert payload["integration"]["status"] == "DISCONNECTED"
    assert await history(pg, gmail) == [("revoke", "unavailable", "HTTP 503")]
    assert await history(pg, hubspot) == [("revoke", "unsupported", None)]
    # The history is in the graph too, per integration, newest first.
    data = await gql.data(
        """query($filter: IntegrationFilter) { viewer { integrations(filter: $filter, orderBy: PROVIDER_ASC) {
        nodes { provider refreshHistory { totalCount nodes { kind outcome errorCode durationMs } } } } } }""",
        {"filter": {"status": ["DISCONNECTED"]}},
        token=member.token,
    )
    events = {node["provider"]: node["refreshHistory"] for node in data["viewer"]["integrations"]["nodes"]}
    assert events["GMAIL"]["totalCount"] == 1
    assert events["GMAIL"]["nodes"][0]["kind"] == "REVOKE" and events["GMAIL"]["nodes"][0]["outcome"] == "UNAVAILABLE"
    assert events["GMAIL"]["nodes"][0]["errorCode"] == "HTTP 503"
    assert events["HUBSPOT"]["nodes"][0]["outcome"] == "UNSUPPORTED"


async def test_every_status_change_is_pushed_live(
    gql: GraphQLClient,
    browser: Browser,
    member: SignedUp,
    oauth: RunningAuthServer,
    oauth_live: str,
    vault: Vault,
) -> None:
    async with transport_ws(oauth_live, member.token) as socket:
        await socket.subscribe("all", UPDATED)
        await asyncio.sleep(0.3)  # the subscription is listening
        oauth.state.access_ttl = 60
        pk = await connected(gql, browser, member)
        event = (await socket.next_data("all"))["integrationUpdated"]
        assert event["status"] == "CONNECTED" and event["id"] == global_id("Integration", pk)
        oauth.state.invalid_grant = True
        await vault.refresh(pk)
        event = (await socket.next_data("all"))["integrationUpdated"]
        assert event["status"] == "EXPIRED" and event["metadata"]["lastError"]["code"] == "invalid_grant"
        await disconnect(gql, member, global_id("Integration", pk))
        event = (await socket.next_data("all"))["integrationUpdated"]
        assert event["status"] == "DISCONNECTED"


async def test_subscribing_to_someone_elses_integration_is_not_found(
    gql: GraphQLClient, browser: Browser, member: SignedUp, oauth_live: str
) -> None:
    pk = await connected(gql, browser, member)
    stranger = await gql.register()
    async with transport_ws(oauth_live, stranger.token) as socket:
        await socket.subscribe("one", UPDATED, {"id": global_id("Integration", pk)})
        message = await socket.receive("one")
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
