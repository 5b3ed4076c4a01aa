"""A live `gateway serve` that runs the worker in-process, on a database and a redis-server of this
package's own (its worker must not take the in-process tests' jobs), and in-process helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from jobs.context import WorkerDeps
from services.resources import Resources
from tests.agents.conftest import LiveEnv, own_environment
from tests.conftest import _dsn
from tests.graphql_client import GraphQLClient
from tests.live import LiveServer, live_server


@pytest.fixture(scope="package")
def docs_env(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveEnv]:
    with own_environment(pg_server_url, tmp_path_factory, "documents", run_worker=True) as environment:
        yield environment


@pytest.fixture(scope="package")
def docs_gateway(docs_env: LiveEnv) -> Iterator[LiveServer]:
    with live_server(docs_env.env, log=docs_env.logs / "gateway.log") as server:
        yield server


@pytest.fixture
async def live_http(docs_gateway: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=docs_gateway.url, timeout=60) as http:
        yield http


@pytest.fixture
async def live(live_http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(live_http)


@pytest.fixture
async def live_pg(docs_env: LiveEnv) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(_dsn(docs_env.database_url))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def worker_deps(resources: Resources) -> WorkerDeps:
    """What the worker's jobs get, on the in-process resources: tests run the processing job itself."""
    return WorkerDeps.of(resources)
