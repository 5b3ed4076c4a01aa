"""Names and defaults the seed and the run agree on.

The bench owns a dedicated database (`gateway_bench`) so seeding and `--reset` can never touch a
development or test database, and a dedicated Redis database number for the same reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/gateway_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"

# Every seeded user shares this password (and one argon2 hash of it, computed once: hashing
# 1,000 passwords would take longer than the rest of the seed).
BENCH_PASSWORD = "BenchPassw0rd!"
HEAVY_EMAIL = "heavy@bench.example.com"
EMAIL_DOMAIN = "bench.example.com"

# The page sizes of the query. The heavy user has more of both than a page holds, so
# `first: 100` and `first: 20` really cut (and hasNextPage is exercised) instead of returning
# everything there is.
SESSIONS_PAGE = 100
MESSAGES_PAGE = 20


@dataclass(frozen=True)
class SeedSpec:
    """What a seeded database holds; stored on the database so a re-run can tell it is done."""

    users: int = 1000
    sessions_per_user: int = 20
    messages_per_session: int = 20
    heavy_sessions: int = 120
    heavy_messages: int = 24
    documents_per_user: int = 5
    tasks_per_user: int = 8
    agents: int = 12
    random_seed: int = 20261125
    version: int = 1  # bump when the generator changes what it writes

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def user_email(index: int) -> str:
    return f"user{index:05d}@{EMAIL_DOMAIN}"


def require_loopback(url: str) -> None:
    """Refuse to send bench traffic anywhere but this machine."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SystemExit(f"refusing non-loopback host {host!r} in {url!r}: the bench only talks to 127.0.0.1")


def database_name(dsn: str) -> str:
    name = urlsplit(dsn).path.lstrip("/")
    if not name:
        raise SystemExit(f"the DSN {dsn!r} names no database")
    return name


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def plain_dsn(dsn: str) -> str:
    """asyncpg and `DATABASE_URL` want `postgresql://`; accept a SQLAlchemy URL too."""
    parts = urlsplit(dsn)
    scheme = parts.scheme.split("+", 1)[0]
    return urlunsplit(parts._replace(scheme="postgresql" if scheme == "postgres" else scheme))


def sqlalchemy_url(dsn: str) -> str:
    return urlunsplit(urlsplit(plain_dsn(dsn))._replace(scheme="postgresql+asyncpg"))


@contextmanager
def scratch_database(dsn: str, prefix: str) -> Iterator[str]:
    """A database of this run's own on the server of `dsn` (its DSN), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(plain_dsn(dsn))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(dsn, name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
