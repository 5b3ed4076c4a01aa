"""The whole system: a real `gateway serve` process running the worker, its providers pointed at the loopback
authorization server. A browser connects Gmail over real HTTP (connect -> authorize -> callback -> returnTo),
a task's MCP tool acts through the lent token via the saq worker, and a refused refresh reaches a live
subscriber as EXPIRED."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from tests.agents.conftest import LiveEnv, own_environment
from tests.agents.flows import make_operator, register_agent, wait_for_task
from tests.conftest import _dsn
from tests.graphql_client import GraphQLClient
from tests.integrations.auth_server import RunningAuthServer
from tests.integrations.conftest import APP_ORIGIN, CONFIGURED, CONNECT, RETURN_TO
from tests.integrations.mcp_peer import RunningPeer, integration_peer
from tests.live import GATEWAY, LiveServer, live_server
from tests.ws import transport_ws

RUN_TASK = """
mutation($input: RunTaskInput!) { runTask(input: $input) { task { id status } errors { field code message } } }
"""
UPDATED = "subscription { integrationUpdated { id status metadata { lastError { code } } } }"


@pytest.fixture(scope="module")
def live_env(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveEnv]:
    with own_environment(pg_server_url, tmp_path_factory, "integrations", run_worker=True) as environment:
        yield environment


@pytest.fixture(scope="module")
def gateway_env(live_env: LiveEnv, oauth: RunningAuthServer) -> dict[str, str]:
    return {**live_env.env, **oauth.settings_for(*CONFIGURED), "GATEWAY_CORS_ORIGINS": APP_ORIGIN}


@pytest.fixture(scope="module")
def live_gateway(live_env: LiveEnv, gateway_env: dict[str, str]) -> Iterator[LiveServer]:
    with live_server(gateway_env, log=live_env.logs / "gateway.log") as server:
        yield server


@pytest.fixture
async def live(live_gateway: LiveServer) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=live_gateway.url, timeout=30) as http:
        yield GraphQLClient(http)


@pytest.fixture
async def live_pg(live_env: LiveEnv) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(_dsn(live_env.database_url))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def peer(oauth: RunningAuthServer) -> AsyncIterator[RunningPeer]:
    async with integration_peer(f"{oauth.url}/userinfo") as running:
        yield running


async def browse(url: str) -> str:
    """Follow redirects like a browser until the app (returnTo's origin) is reached."""
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(5):
            if url.startswith(APP_ORIGIN):
                return url
            answer = await http.get(url)
            assert answer.status_code in (302, 303, 307), answer.text
            url = answer.headers["location"]
    raise AssertionError("too many redirects")


async def test_connect_lend_and_expire_through_a_live_gateway(
    live: GraphQLClient,
    live_gateway: LiveServer,
    gateway_env: dict[str, str],
    live_pg: asyncpg.Connection,
    oauth: RunningAuthServer,
    peer: RunningPeer,
) -> None:
    user = await live.register()
    payload = (await live.data(CONNECT, {"input": {"provider": "GMAIL", "returnTo": RETURN_TO}}, token=user.token))[
        "connectIntegration"
    ]
    assert f"redirect_uri={live_gateway.url.replace(':', '%3A').replace('/', '%2F')}" in payload["authorizationUrl"]
    landed = await browse(payload["authorizationUrl"])
    integration = parse_qs(urlsplit(landed).query)["integration"][0]

    operator = await make_operator(live_pg, await live.register())
    agent = await register_agent(live, operator, peer.url)
    variables: dict[str, Any] = {
        "input": {
            "agentId": agent["id"],
            "taskType": "whoami",
            "input": {"provider": "gmail"},
            "integrationIds": [integration],
        }
    }
    task = (await live.data(RUN_TASK, variables, token=user.token))["runTask"]["task"]
    done = await wait_for_task(live, user, task["id"], {"COMPLETED", "FAILED"}, timeout=30)
    assert done["status"] == "COMPLETED", done
    assert oauth.state.valid_access(peer.seen.metas[-1]["integrations"]["gmail"]["accessToken"])

    async with transport_ws(live_gateway.ws_url, user.token) as socket:
        await socket.subscribe("s", UPDATED)
        await asyncio.sleep(0.3)
        oauth.state.invalid_grant = True
        await live_pg.execute(
            "UPDATE integrations SET token_expires_at = now() + interval '10 seconds' WHERE user_id = $1", user.pk
        )
        refresh = await asyncio.create_subprocess_exec(GATEWAY, "refresh-tokens", env=gateway_env)
        assert await refresh.wait() == 0
        event = (await socket.next_data("s"))["integrationUpdated"]
        assert event == {"id": integration, "status": "EXPIRED", "metadata": {"lastError": {"code": "invalid_grant"}}}
