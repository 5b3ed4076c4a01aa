"""Real PostgreSQL and Redis for the whole run: a fresh database built by `alembic upgrade head`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from migrations import migrate
from tests import servers


def _dsn(url: str) -> str:
    """asyncpg's own DSN (no `+asyncpg` driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(_dsn(url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def pytest_configure(config: pytest.Config) -> None:
    parallel = bool(getattr(config.option, "numprocesses", None)) and getattr(config.option, "dist", "no") != "no"
    if parallel and not hasattr(config, "workerinput"):
        # The controller of a parallel run (pytest-xdist): one set of servers for every worker. Each worker
        # still makes databases of its own (`database_url` below) and takes its own Redis database.
        servers.share_with_workers()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Session fixtures are torn down by now; the embedded servers must not outlive the run.
    servers.stop_embedded()


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    return servers.server_url()


def create_database(server: str, prefix: str) -> str:
    name = servers.scratch_name(prefix)
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    return servers.with_database(server, name)


def drop_database(server: str, url: str) -> None:
    name = make_url(url).database
    asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url(pg_server_url: str) -> Iterator[str]:
    """The run's database, migrated to head. An asyncpg SQLAlchemy URL."""
    url = create_database(pg_server_url, "gateway_test")
    migrate.upgrade(url)
    yield url
    drop_database(pg_server_url, url)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The run's Redis. Attempt counters left by an earlier run (same Redis, inside their window)
    would otherwise lock this run's fixed inputs out."""
    url = servers.redis_url()

    async def clear() -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(url)
        try:
            async for key in client.scan_iter(match="ratelimit:*", count=1000):
                await client.delete(key)
        finally:
            await client.aclose()

    asyncio.run(clear())
    return url


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A raw asyncpg connection to the run's database, for arranging and inspecting rows."""
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory):
    from gateway.settings import Settings

    return Settings(GATEWAY_DATA_DIR=str(tmp_path_factory.mktemp("data")), GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json())


def signing_keys_json() -> str:
    import json

    from services.tokens import generate_key_set

    return json.dumps(generate_key_set().as_dict(private=True))


@pytest.fixture(scope="session")
async def resources(settings, database_url: str, redis_url: str):
    from services.resources import close_resources, open_resources

    opened = await open_resources(settings, database_url=database_url, redis_url=redis_url)
    yield opened
    await close_resources(opened)


@pytest.fixture(scope="session")
def app(resources):
    from graph.app import create_app

    return create_app(resources)


@pytest.fixture
async def client(app):
    from tests.graphql_client import GraphQLClient

    async with GraphQLClient.over_asgi(app) as connected:
        yield connected


@pytest.fixture
async def user(client):
    """A fresh registered user of its own (tests never share rows)."""
    return await client.register()


@pytest.fixture
def sql_counter(resources):
    from tests.graphql_client import StatementCounter

    with StatementCounter(resources.engine) as counter:
        yield counter
