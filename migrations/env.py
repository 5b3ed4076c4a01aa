"""Async alembic environment. The URL comes from `sqlalchemy.url` when the caller sets it (the CLI and
the tests do), otherwise from DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

import models
from gateway.db import async_url

config = context.config
MIGRATION_LOCK = 7_146_520_261_130  # pg_advisory_lock key of this schema's migrations
LOCK_POLL_SECONDS = 0.25
target_metadata = models.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("set DATABASE_URL (or run `gateway migrate`, which starts the embedded server)")
    return async_url(url)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _take_lock(guard: AsyncConnection) -> None:
    """Try for the lock, idle in between: a process blocked inside `pg_advisory_lock` would hold a
    snapshot, and a concurrent index build of the migrating process waits for every such snapshot (a
    deadlock PostgreSQL cannot see, since the lock is held by another connection of that process)."""
    while True:
        taken = (await guard.exec_driver_sql(f"SELECT pg_try_advisory_lock({MIGRATION_LOCK})")).scalar()
        await guard.commit()
        if taken:
            return
        await asyncio.sleep(LOCK_POLL_SECONDS)


async def _run_online() -> None:
    """Migrate under a session-level advisory lock, held on a connection of its own: processes that start
    together (several `gateway serve`) migrate one after the other, and each later one finds the schema
    at head. The lock outlives the commits of migrations that build indexes concurrently."""
    engine = create_async_engine(_url(), poolclass=NullPool)
    try:
        async with engine.connect() as guard:
            await _take_lock(guard)
            try:
                async with engine.connect() as connection:
                    await connection.run_sync(_configure)
            finally:
                await guard.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
                await guard.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
