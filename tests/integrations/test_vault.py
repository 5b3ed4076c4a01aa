"""The token vault: cached reads, refresh shortly before expiry with a rotated refresh token, invalid_grant
-> EXPIRED, passing failures -> back-off -> ERROR -> recovery, the history of attempts, and one refresh when
two processes try at once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from redis.asyncio import Redis

from graph.node import decode_global_id
from resolvers.integration_vault import TokenUnavailable, Vault, unseal_refresh
from tests.graphql_client import GraphQLClient, SignedUp
from tests.integrations.auth_server import RunningAuthServer
from tests.integrations.conftest import Browser, connect

GATEWAY = str(Path(sys.executable).with_name("gateway"))


async def connected(gql: GraphQLClient, browser: Browser, user: SignedUp, provider: str = "gmail") -> Any:
    landed = await connect(gql, browser, user, provider)
    return decode_global_id(parse_qs(urlsplit(landed).query)["integration"][0])[1]


async def history(pg: asyncpg.Connection, integration_id: Any) -> list[tuple[str, str, str | None]]:
    rows = await pg.fetch(
        "SELECT kind, outcome, error_code FROM integration_token_events"
        " WHERE integration_id = $1 ORDER BY attempted_at",
        integration_id,
    )
    return [(row["kind"], row["outcome"], row["error_code"]) for row in rows]


async def test_a_fresh_token_is_served_from_the_cache_without_a_refresh(
    gql: GraphQLClient, browser: Browser, member: SignedUp, oauth: RunningAuthServer, vault: Vault, redis_url: str
) -> None:
    pk = await connected(gql, browser, member)
    before = dict(oauth.state.token_calls)
    first = await vault.token(pk)
    second = await vault.token(pk)
    assert first.access_token == second.access_token and oauth.state.valid_access(first.access_token)
    assert oauth.state.token_calls == before
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        cached = await redis.get(f"vault:access:{pk}")
        ttl = await redis.ttl(f"vault:access:{pk}")
    finally:
        await redis.aclose()
    assert cached is not None and first.access_token not in cached
    assert json.loads(cached)["sealed"].startswith("v1:")
    assert 3600 - 300 - 5 <= ttl <= 3600 - 300  # the token's remaining life less the refresh margin
    assert "at-" not in repr(first)


async def test_a_token_near_expiry_is_refreshed_and_the_rotated_refresh_token_stored(
    gql: GraphQLClient,
    browser: Browser,
    member: SignedUp,
    oauth: RunningAuthServer,
    vault: Vault,
    pg: asyncpg.Connection,
) -> None:
    oauth.state.access_ttl = 60  # inside the 300 s margin: due at once
    pk = await connected(gql, browser, member)
    row = await pg.fetchrow("SELECT * FROM integrations WHERE id = $1", pk)
    old_refresh = unseal_refresh(vault.box, _model(row))
    lent = await vault.token(pk)
    assert oauth.state.valid_access(lent.access_token)
    assert old_refresh not in oauth.state.refresh  # rotated: the old one is spent at the provider
    new_row = await pg.fetchrow("SELECT * FROM integrations WHERE id = $1", pk)
    new_refresh = unseal_refresh(vault.box, _model(new_row))
    assert new_refresh != old_refresh and new_refresh in oauth.state.refresh
    assert new_row["token_expires_at"] >= row["token_expires_at"]
    assert await history(pg, pk) == [("refresh", "ok", None)]
    # The new token answers at the provider: user info with it works.
    assert oauth.state.valid_access(lent.access_token).user["sub"] == "acct-1"  # type: ignore[union-attr]


def _model(row: asyncpg.Record) -> Any:
    from models import Integration

    return Integration(
        id=row["id"],
        user_id=row["user_id"],
        provider=row["provider"],
        encrypted_tokens=row["encrypted_tokens"],
        refresh_token_encrypted=row["refresh_token_encrypted"],
    )


async def test_invalid_grant_expires_the_integration_and_the_vault_refuses(
    gql: GraphQLClient,
    browser: Browser,
    member: SignedUp,
    oauth: RunningAuthServer,
    vault: Vault,
    pg: asyncpg.Connection,
) -> None:
    oauth.state.access_ttl = 60
    pk = await connected(gql, browser, member)
    oauth.state.invalid_grant = True
    with pytest.raises(TokenUnavailable, match="gmail integration has expired; reconnect it"):
        await vault.token(pk)
    row = await pg.fetchrow("SELECT status, metadata FROM integrations WHERE id = $1", pk)
    assert row["status"] == "expired"
    assert '"code": "invalid_grant"' in row["metadata"]
    assert await history(pg, pk) == [("refresh", "refused", "invalid_grant")]
    # Reconnecting recovers: CONNECTED, lastError gone.
    oauth.state.invalid_grant = False
    oauth.state.access_ttl = 3600
    await connected(gql, browser, member)
    row = await pg.fetchrow("SELECT status, metadata FROM integrations WHERE id = $1", pk)
    assert row["status"] == "connected" and "lastError" not in row["metadata"]


async def test_passing_failures_back_off_then_error_then_recover(
    gql: GraphQLClient,
    browser: Browser,
    member: SignedUp,
    oauth: RunningAuthServer,
    vault: Vault,
    pg: asyncpg.Connection,
) -> None:
    oauth.state.access_ttl = 60
    pk = await connected(gql, browser, member)
    oauth.state.fail_token = True
    moved = await vault.refresh(pk)
    assert moved is not None and moved.status == "connected" and moved.meta["refreshFailures"] == 1
    # Backing off: the pass does not pick it up again before nextRefreshAt, and the token (still valid)
    # is served meanwhile.
    before = oauth.state.token_calls.get("refresh_token", 0)
    assert (await vault.token(pk)).access_token
    assert oauth.state.token_calls.get("refresh_token", 0) == before
    for _ in range(2):
        moved = await vault.refresh(pk, force=True)
    assert moved is not None and moved.status == "error"
    assert moved.meta["lastError"]["code"] == "HTTP 500"
    oauth.state.fail_token = False
    moved = await vault.refresh(pk, force=True)
    assert moved is not None and moved.status == "connected" and "lastError" not in moved.meta
    outcomes = [outcome for _, outcome, _ in await history(pg, pk)]
    assert outcomes == ["unavailable", "unavailable", "unavailable", "ok"]


async def test_a_slow_provider_is_cut_off(oauth: RunningAuthServer, vault: Vault) -> None:
    from services.oauth import client as oauth_client

    oauth.state.delay = 1.0
    config = vault.registry.get("gmail")
    assert config is not None
    with pytest.raises(oauth_client.ProviderUnavailable, match="no answer in time"):
        await oauth_client.refresh(config, vault.policy, refresh_token="rt-x", timeout=0.3)


async def test_two_processes_refreshing_at_once_refresh_once(
    gql: GraphQLClient,
    browser: Browser,
    member: SignedUp,
    oauth: RunningAuthServer,
    oauth_settings: Any,
    database_url: str,
    redis_url: str,
    pg: asyncpg.Connection,
) -> None:
    """Two `gateway refresh-tokens` processes at once, against a provider that rotates refresh tokens (a
    second refresh with the spent token would answer invalid_grant and expire the integration)."""
    oauth.state.access_ttl = 60
    pk = await connected(gql, browser, member)
    oauth.state.delay = 2.0  # both passes are under way while the first refresh is in flight
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env.update(
        DATABASE_URL=database_url.replace("+asyncpg", ""),
        REDIS_URL=redis_url,
        GATEWAY_DATA_DIR=str(oauth_settings.data_dir),
        **oauth_settings.oauth_settings,
    )
    processes = [
        await asyncio.create_subprocess_exec(
            GATEWAY, "refresh-tokens", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    outputs = [(await process.communicate())[0].decode() for process in processes]
    assert all(process.returncode == 0 for process in processes), "\n\n".join(outputs)  # in full on failure
    assert await history(pg, pk) == [("refresh", "ok", None)], outputs
    status = await pg.fetchval("SELECT status FROM integrations WHERE id = $1", pk)
    assert status == "connected"
