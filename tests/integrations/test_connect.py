"""Connecting a provider: the browser path through a real authorization server, and every refusal."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from graph.node import decode_global_id
from tests.graphql_client import GraphQLClient, SignedUp
from tests.integrations.auth_server import RunningAuthServer
from tests.integrations.conftest import RETURN_TO, Browser, connect, integrations_of, start

GMAIL_READ = "https://www.googleapis.com/auth/gmail.readonly"
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


async def stored(pg: asyncpg.Connection, user: SignedUp) -> list[asyncpg.Record]:
    return await pg.fetch("SELECT * FROM integrations WHERE user_id = $1", user.pk)


async def test_the_browser_path_connects_and_stores_tokens_sealed(
    gql: GraphQLClient, browser: Browser, member: SignedUp, oauth: RunningAuthServer, pg: asyncpg.Connection
) -> None:
    payload = await start(gql, member, scopes=["openid", "email", GMAIL_READ, GMAIL_SEND])
    url = payload["authorizationUrl"]
    asked = query_of(url)
    assert url.startswith(f"{oauth.url}/authorize?")
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["redirect_uri"] == "http://gateway.test/oauth/callback/gmail"
    assert asked["access_type"] == "offline"
    landed = await browser.follow(url)
    assert isinstance(landed, str) and landed.startswith(RETURN_TO + "?integration=")
    type_name, pk = decode_global_id(query_of(landed)["integration"])
    assert type_name == "Integration"

    [row] = await stored(pg, member)
    assert row["id"] == pk and row["status"] == "connected" and row["provider"] == "gmail"
    assert row["provider_user_id"] == "acct-1"
    assert row["encrypted_tokens"].startswith("v1:") and row["refresh_token_encrypted"].startswith("v1:")
    issued = set(oauth.state.access) | set(oauth.state.refresh)
    assert not any(token in str(dict(row)) for token in issued)
    assert row["capabilities"] == ["email.read", "email.send"]

    [node] = await integrations_of(gql, member)
    assert node["status"] == "CONNECTED" and node["metadata"]["email"] == "owner@example.com"
    assert node["metadata"]["displayName"] == "Olive Owner" and node["providerUserId"] == "acct-1"
    assert node["scopes"] == ["openid", "email", GMAIL_READ, GMAIL_SEND]


async def test_granted_scopes_may_be_fewer_than_asked(
    gql: GraphQLClient, browser: Browser, member: SignedUp, oauth: RunningAuthServer
) -> None:
    oauth.state.grant_fewer = {GMAIL_SEND}
    await connect(gql, browser, member, scopes=["openid", GMAIL_READ, GMAIL_SEND])
    [node] = await integrations_of(gql, member)
    assert node["scopes"] == ["openid", GMAIL_READ] and node["capabilities"] == ["email.read"]


async def test_connecting_again_updates_the_same_row(
    gql: GraphQLClient, browser: Browser, member: SignedUp, pg: asyncpg.Connection
) -> None:
    first = query_of(await connect(gql, browser, member))["integration"]
    second = query_of(await connect(gql, browser, member, scopes=[GMAIL_SEND]))["integration"]
    assert first == second
    [row] = await stored(pg, member)
    assert row["scopes"] == [GMAIL_SEND]


async def test_refusals_at_connect_are_reported_together_and_store_nothing(
    gql: GraphQLClient, member: SignedUp, pg: asyncpg.Connection, redis_url: str
) -> None:
    payload = await start(
        gql, member, "outlook", scopes=["Mail.Read", "not-a-scope"], returnTo="https://evil.example/x"
    )
    codes = sorted((error["field"], error["code"]) for error in payload["errors"])
    assert codes == [
        ("input.provider", "NOT_CONFIGURED"),
        ("input.returnTo", "UNTRUSTED_ORIGIN"),
        ("input.scopes.1", "INVALID_SCOPE"),
    ]
    assert payload["authorizationUrl"] is None
    payload = await start(gql, member, "gmail", scopes=["Mail.Read"])  # another provider's scope
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("input.scopes.0", "INVALID_SCOPE")]
    for bad in ("javascript:alert(1)", "http://app.example.evil.com/", "//app.example/x", "http://app.example:81/"):
        payload = await start(gql, member, returnTo=bad)
        assert [e["code"] for e in payload["errors"]] == ["UNTRUSTED_ORIGIN"], bad
    assert await stored(pg, member) == []


async def test_an_unknown_provider_is_a_graphql_error(gql: GraphQLClient, member: SignedUp) -> None:
    body = await gql.execute(
        'mutation { connectIntegration(input: {provider: DROPBOX, returnTo: "http://app.example/"})'
        " { authorizationUrl } }",
        token=member.token,
    )
    assert body["errors"] and "DROPBOX" in body["errors"][0]["message"]


async def test_anonymous_cannot_connect(gql: GraphQLClient) -> None:
    body = await gql.execute(
        'mutation { connectIntegration(input: {provider: GMAIL, returnTo: "http://app.example/"})'
        " { authorizationUrl } }"
    )
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_access_denied_goes_back_with_the_error(
    gql: GraphQLClient, browser: Browser, member: SignedUp, oauth: RunningAuthServer, pg: asyncpg.Connection
) -> None:
    oauth.state.deny = True
    landed = await connect(gql, browser, member)
    assert query_of(landed) == {"error": "access_denied"} and landed.startswith(RETURN_TO)
    assert await stored(pg, member) == []


async def test_a_failed_exchange_goes_back_with_exchange_failed(
    gql: GraphQLClient, browser: Browser, member: SignedUp, oauth: RunningAuthServer, pg: asyncpg.Connection
) -> None:
    oauth.state.fail_token = True
    assert query_of(await connect(gql, browser, member)) == {"error": "exchange_failed"}
    assert await stored(pg, member) == []


async def _callback_url(gql: GraphQLClient, browser: Browser, member: SignedUp) -> str:
    """The callback URL the provider sends the browser to, not yet visited."""
    payload = await start(gql, member)
    answer = await browser.http.get(payload["authorizationUrl"])
    return str(answer.headers["location"])


async def test_a_replayed_state_is_refused_and_stores_nothing_more(
    gql: GraphQLClient, browser: Browser, member: SignedUp, pg: asyncpg.Connection
) -> None:
    callback = await _callback_url(gql, browser, member)
    first = await browser.http.get(callback)
    assert first.status_code == 303
    again = await browser.http.get(callback)
    assert again.status_code == 400 and "not valid" in again.text
    assert len(await stored(pg, member)) == 1


async def test_forged_foreign_and_malformed_states_are_refused(
    gql: GraphQLClient, browser: Browser, member: SignedUp, pg: asyncpg.Connection, oauth: RunningAuthServer
) -> None:
    callback = await _callback_url(gql, browser, member)
    params = query_of(callback)
    base = "http://gateway.test/oauth/callback/"
    cases: list[tuple[str, dict[str, Any]]] = [
        ("gmail", {"code": params["code"], "state": "A" * 43}),  # well formed, never issued
        ("gmail", {"code": params["code"], "state": "x" * 5000}),
        ("gmail", {"code": params["code"]}),
        ("gmail", {"error": "access_denied", "state": "nope"}),
    ]
    for provider, query in cases:
        answer = await browser.http.get(base + provider, params=query)
        assert answer.status_code == 400, query
    # A state issued for Gmail presented at another provider's callback is refused (and spent).
    answer = await browser.http.get(base + "slack", params=params)
    assert answer.status_code == 400
    assert (await browser.http.get(callback)).status_code == 400
    assert (await browser.http.get(base + "dropbox", params=params)).status_code == 404
    assert await stored(pg, member) == []
    assert oauth.state.token_calls.get("authorization_code", 0) >= 0


async def test_an_expired_state_is_refused(
    gql: GraphQLClient, browser: Browser, member: SignedUp, pg: asyncpg.Connection, redis_url: str
) -> None:
    from redis.asyncio import Redis

    callback = await _callback_url(gql, browser, member)
    client = Redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match="oauth:state:*", count=1000):
            await client.pexpire(key, 1)
    finally:
        await client.aclose()
    import asyncio

    await asyncio.sleep(0.05)
    assert (await browser.http.get(callback)).status_code == 400
    assert await stored(pg, member) == []


async def test_integration_providers_lists_each_with_scopes_and_capabilities(gql: GraphQLClient) -> None:
    data = await gql.data(
        "{ integrationProviders { provider name configured supportsRevocation defaultScopes capabilities"
        " scopes { name description capabilities } } }"
    )
    providers = {p["provider"]: p for p in data["integrationProviders"]}
    assert list(providers) == ["GMAIL", "GOOGLE_CALENDAR", "HUBSPOT", "OUTLOOK", "SLACK"]
    assert providers["OUTLOOK"]["configured"] is False and providers["GMAIL"]["configured"] is True
    gmail = providers["GMAIL"]
    assert "email.send" in gmail["capabilities"]
    assert {"name": GMAIL_SEND, "description": "Send mail as you.", "capabilities": ["email.send"]} in gmail["scopes"]


async def test_other_provider_errors_go_back_as_exchange_failed(
    gql: GraphQLClient, browser: Browser, member: SignedUp, pg: asyncpg.Connection
) -> None:
    callback = await _callback_url(gql, browser, member)
    state = query_of(callback)["state"]
    answer = await browser.http.get(
        "http://gateway.test/oauth/callback/gmail", params={"state": state, "error": "server_error"}
    )
    assert answer.status_code == 303
    assert query_of(answer.headers["location"]) == {"error": "exchange_failed"}
    assert await stored(pg, member) == []


async def test_connection_attempts_are_limited_per_user(gql: GraphQLClient, member: SignedUp) -> None:
    for _ in range(30):
        assert (await start(gql, member))["errors"] == []
    refused = await start(gql, member)
    assert [e["code"] for e in refused["errors"]] == ["RATE_LIMITED"] and refused["errors"][0]["retryAfter"] > 0
    assert refused["authorizationUrl"] is None
