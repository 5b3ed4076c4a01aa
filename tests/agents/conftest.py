"""A live gateway that runs the worker in-process (GATEWAY_RUN_WORKER=true), on a database and a
redis-server of this package's own, so its sweep and queues see no other package's tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.agents.flows import make_operator
from tests.agents.servers import OwnRedis
from tests.conftest import _dsn, create_database, drop_database, signing_keys_json
from tests.graphql_client import GraphQLClient, SignedUp
from tests.live import LiveServer, gateway_env, live_server


@dataclass
class LiveEnv:
    env: dict[str, str]
    database_url: str
    redis: OwnRedis
    logs: Path


@contextmanager
def own_environment(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory, name: str, *, run_worker: bool
) -> Iterator[LiveEnv]:
    """A migrated database and a redis-server of their own, and the environment a gateway needs."""
    from migrations import migrate

    database = create_database(pg_server_url, f"gateway_{name}")
    migrate.upgrade(database)
    redis = OwnRedis(tmp_path_factory.mktemp(f"{name}-redis"))
    redis.start()
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis.url,
        tmp_path_factory.mktemp(name),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
        GATEWAY_RUN_WORKER="true" if run_worker else "false",
    )
    try:
        yield LiveEnv(env, database, redis, tmp_path_factory.mktemp(f"{name}-logs"))
    finally:
        redis.kill()
        drop_database(pg_server_url, database)


@pytest.fixture(scope="package")
def worker_env(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveEnv]:
    with own_environment(pg_server_url, tmp_path_factory, "agents", run_worker=True) as environment:
        yield environment


@pytest.fixture(scope="package")
def worker_gateway(worker_env: LiveEnv) -> Iterator[LiveServer]:
    with live_server(worker_env.env, log=worker_env.logs / "gateway.log") as server:
        yield server


@pytest.fixture
async def live(worker_gateway: LiveServer) -> AsyncIterator[GraphQLClient]:
    """A GraphQL client over a real socket to the gateway that runs the worker."""
    async with httpx.AsyncClient(base_url=worker_gateway.url, timeout=30) as http:
        yield GraphQLClient(http)


@pytest.fixture
async def live_pg(worker_env: LiveEnv) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(_dsn(worker_env.database_url))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def operator(client: GraphQLClient, pg: asyncpg.Connection) -> SignedUp:
    """A fresh operator of its own (in-process client; live tests define their own)."""
    return await make_operator(pg, await client.register())


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    connection = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield connection
    finally:
        await connection.aclose()
