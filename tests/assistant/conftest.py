"""A live gateway with the assistant on: it runs the worker in-process, on a database and a redis-server of
its own, and talks to the OpenAI-compatible stand-in and an MCP peer, both served from this test process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from tests.agents.conftest import LiveEnv, own_environment
from tests.agents.flows import make_operator, register_agent
from tests.agents.mcp_peer import RunningPeer, mcp_peer
from tests.assistant.provider_peer import RunningProvider, provider_peer
from tests.conftest import _dsn
from tests.graphql_client import GraphQLClient
from tests.live import LiveServer, live_server

MODEL = "peer-model"
API_KEY = "sk-assistant-test-key"


@pytest.fixture(scope="package")
async def provider() -> AsyncIterator[RunningProvider]:
    async with provider_peer() as running:
        yield running


@pytest.fixture(scope="package")
async def tools_peer() -> AsyncIterator[RunningPeer]:
    async with mcp_peer(only=set(), assistant_tools=True) as running:
        yield running


@pytest.fixture(scope="package")
def assistant_env(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory, provider: RunningProvider
) -> Iterator[LiveEnv]:
    with own_environment(pg_server_url, tmp_path_factory, "assistant", run_worker=True) as environment:
        environment.env.update(
            GATEWAY_ASSISTANT_URL=provider.url,
            GATEWAY_ASSISTANT_MODEL=MODEL,
            GATEWAY_ASSISTANT_API_KEY=API_KEY,
            GATEWAY_ASSISTANT_ALLOW_PRIVATE="true",
            GATEWAY_ASSISTANT_FIRST_TOKEN_TIMEOUT="2",
            GATEWAY_ASSISTANT_IDLE_TIMEOUT="2",
            GATEWAY_ASSISTANT_REPLY_TIMEOUT="20",
            GATEWAY_ASSISTANT_DAILY_TOKENS="1000000",
        )
        yield environment


@pytest.fixture(scope="package")
def assistant_gateway(assistant_env: LiveEnv) -> Iterator[LiveServer]:
    with live_server(assistant_env.env, log=assistant_env.logs / "gateway.log") as server:
        yield server


@pytest.fixture
async def live(assistant_gateway: LiveServer) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=assistant_gateway.url, timeout=30) as http:
        yield GraphQLClient(http)


@pytest.fixture
async def live_pg(assistant_env: LiveEnv) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(_dsn(assistant_env.database_url))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture(scope="package")
async def tools_agent(assistant_gateway: LiveServer, assistant_env: LiveEnv, tools_peer: RunningPeer) -> str:
    """The MCP peer registered once (by an operator of its own); its global ID."""
    async with httpx.AsyncClient(base_url=assistant_gateway.url, timeout=30) as http:
        client = GraphQLClient(http)
        connection = await asyncpg.connect(_dsn(assistant_env.database_url))
        try:
            operator = await make_operator(connection, await client.register())
        finally:
            await connection.close()
        agent = await register_agent(client, operator, tools_peer.url, name="billing")
    return str(agent["id"])
