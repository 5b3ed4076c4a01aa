"""An in-process gateway whose OAuth providers point at a real authorization server on loopback, and a
browser stand-in that follows the connect flow: connect -> authorize -> callback -> returnTo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import signing_keys_json
from tests.graphql_client import GraphQLClient, SignedUp
from tests.integrations.auth_server import RunningAuthServer, auth_server

APP_ORIGIN = "http://app.example"
RETURN_TO = f"{APP_ORIGIN}/settings/integrations"
# Outlook is left without credentials: it is the unconfigured provider of these tests.
CONFIGURED = ("gmail", "google_calendar", "hubspot", "slack")

CONNECT = """
mutation($input: ConnectIntegrationInput!) {
  connectIntegration(input: $input) { authorizationUrl errors { field code message retryAfter } }
}"""
DISCONNECT = """
mutation($input: DisconnectIntegrationInput!) {
  disconnectIntegration(input: $input) {
    integration { id status provider scopes deletedAt }
    errors { field code message }
  }
}"""
INTEGRATIONS = """
query($filter: IntegrationFilter) {
  viewer { integrations(filter: $filter) { totalCount edges { node {
    id provider status providerUserId scopes capabilities tokenExpiresAt
    metadata { email displayName lastError { code message } }
  } } } }
}"""


@pytest.fixture(scope="package")
async def oauth() -> AsyncIterator[RunningAuthServer]:
    async with auth_server() as running:
        yield running


@pytest.fixture(autouse=True)
def reset_switches(oauth: RunningAuthServer) -> None:
    state = oauth.state
    state.deny = state.invalid_grant = state.fail_token = state.fail_revoke = False
    state.delay, state.access_ttl, state.rotate = 0.0, 3600, True
    state.grant_fewer = set()


@pytest.fixture(scope="package")
def oauth_settings(oauth: RunningAuthServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from gateway.settings import Settings

    return Settings(
        GATEWAY_DATA_DIR=str(tmp_path_factory.mktemp("integrations-data")),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
        GATEWAY_CORS_ORIGINS=APP_ORIGIN,
        oauth_settings=oauth.settings_for(*CONFIGURED),
    )


@pytest.fixture(scope="package")
async def oauth_resources(oauth_settings: Any, database_url: str, redis_url: str) -> AsyncIterator[Any]:
    from services.resources import close_resources, open_resources

    opened = await open_resources(oauth_settings, database_url=database_url, redis_url=redis_url)
    yield opened
    await close_resources(opened)


@pytest.fixture(scope="package")
def oauth_app(oauth_resources: Any) -> Any:
    from graph.app import create_app

    return create_app(oauth_resources)


@pytest.fixture(scope="package")
async def oauth_live(oauth_app: Any) -> AsyncIterator[str]:
    """The same app served by uvicorn on loopback, for WebSocket subscriptions."""
    import asyncio

    import uvicorn

    from tests.live import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(oauth_app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def gql(oauth_app: Any) -> AsyncIterator[GraphQLClient]:
    async with GraphQLClient.over_asgi(oauth_app) as connected:
        yield connected


@pytest.fixture
async def member(gql: GraphQLClient) -> SignedUp:
    return await gql.register()


@pytest.fixture
def vault(oauth_resources: Any) -> Any:
    from resolvers.integration_vault import Vault

    return Vault.of(oauth_resources)


@dataclass
class Browser:
    """Follows redirects like a browser until it reaches the app (returnTo's origin), answering the URL it
    was sent to there; the gateway is reached over ASGI, the authorization server over loopback."""

    http: httpx.AsyncClient

    async def follow(self, url: str, *, limit: int = 5) -> httpx.Response | str:
        for _ in range(limit):
            if url.startswith(APP_ORIGIN):
                return url
            response = await self.http.get(url)
            if response.status_code not in (302, 303, 307):
                return response
            url = response.headers["location"]
        raise AssertionError("too many redirects")


@pytest.fixture
async def browser(oauth_app: Any) -> AsyncIterator[Browser]:
    gateway = httpx.ASGITransport(app=oauth_app, client=("10.9.9.9", 40000))
    async with httpx.AsyncClient(mounts={"http://gateway.test": gateway}, timeout=30) as http:
        yield Browser(http)


async def start(gql: GraphQLClient, user: SignedUp, provider: str = "gmail", **fields: Any) -> dict[str, Any]:
    variables = {"input": {"provider": provider.upper(), "returnTo": RETURN_TO, **fields}}
    return (await gql.data(CONNECT, variables, token=user.token))["connectIntegration"]


async def connect(gql: GraphQLClient, browser: Browser, user: SignedUp, provider: str = "gmail", **fields: Any) -> str:
    """The whole browser path; answers the URL the app was sent back to."""
    payload = await start(gql, user, provider, **fields)
    assert payload["errors"] == [], payload["errors"]
    landed = await browser.follow(payload["authorizationUrl"])
    assert isinstance(landed, str), landed
    return landed


async def integrations_of(gql: GraphQLClient, user: SignedUp, **filter_: Any) -> list[dict[str, Any]]:
    data = await gql.data(INTEGRATIONS, {"filter": filter_ or None}, token=user.token)
    return [edge["node"] for edge in data["viewer"]["integrations"]["edges"]]
