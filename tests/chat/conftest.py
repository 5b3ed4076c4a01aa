"""Live gateways for the realtime tests: committed data in a database of this package's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import create_database, drop_database, signing_keys_json
from tests.live import LiveServer, gateway_env, live_server


@pytest.fixture(scope="package")
def realtime_env(
    pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    from migrations import migrate

    database = create_database(pg_server_url, "gateway_realtime")
    migrate.upgrade(database)
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("realtime"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
        GATEWAY_WS_MAX_SUBSCRIPTIONS="5",
        GATEWAY_WS_MAX_CONNECTIONS_PER_USER="3",
    )
    yield env
    drop_database(pg_server_url, database)


@pytest.fixture(scope="package")
def gateway_a(realtime_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(realtime_env, log=tmp_path_factory.mktemp("logs") / "a.log") as server:
        yield server


@pytest.fixture(scope="package")
def gateway_b(realtime_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(realtime_env, log=tmp_path_factory.mktemp("logs") / "b.log") as server:
        yield server
