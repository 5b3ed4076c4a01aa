"""Migration pag1 builds its indexes CONCURRENTLY: while a build waits for a transaction that writes to
the table, other writes to it still go through (a plain CREATE INDEX queues every later writer behind it).

A plain (sync) test: alembic's env.py runs its own event loop (see test_migrations.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import asyncpg
import pytest

from migrations import migrate
from tests.conftest import _dsn, create_database, drop_database

INDEXES = (
    "idx_chat_sessions_user_activity",
    "idx_documents_user_uploaded",
    "idx_tasks_user_started",
    "idx_tasks_session_started",
    "idx_tasks_agent_user_started",
)


@pytest.fixture
def before_pag1(pg_server_url: str) -> Iterator[str]:
    url = create_database(pg_server_url, "gateway_online_indexes")
    migrate.upgrade(url, "lif3")
    yield url
    drop_database(pg_server_url, url)


async def _waiting_build(admin: asyncpg.Connection, seconds: float = 30.0) -> str:
    """The statement of an index build on `tasks` that waits for a lock (the writer's transaction)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        query = await admin.fetchval(
            "SELECT query FROM pg_stat_activity WHERE query ILIKE 'CREATE INDEX%ON tasks%' AND wait_event_type = 'Lock'"
        )
        if query:
            return str(query)
        await asyncio.sleep(0.05)
    raise AssertionError("no index build on tasks waited for the open write")


async def _writes_go_through_while_building(url: str, upgrade: threading.Thread) -> tuple[str, bool]:
    writer, other, admin = [await asyncpg.connect(_dsn(url)) for _ in range(3)]
    try:
        opened = writer.transaction()
        await opened.start()
        await writer.execute("LOCK TABLE tasks IN ROW EXCLUSIVE MODE")  # the lock every write takes
        upgrade.start()
        building = await _waiting_build(admin)
        await other.execute("SET lock_timeout = '2s'")
        try:
            async with other.transaction():
                await other.execute("LOCK TABLE tasks IN ROW EXCLUSIVE MODE")  # another writer, meanwhile
            went_through = True
        except asyncpg.LockNotAvailableError:
            went_through = False
        await opened.commit()
        return building, went_through
    finally:
        for connection in (writer, other, admin):
            await connection.close()


async def _valid_indexes(url: str) -> set[str]:
    connection = await asyncpg.connect(_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indisvalid AND c.relname = ANY($1::text[])",
            list(INDEXES),
        )
    finally:
        await connection.close()
    return {row["relname"] for row in rows}


def test_page_indexes_are_built_while_the_tables_take_writes(before_pag1: str) -> None:
    failures: list[BaseException] = []

    def upgrade() -> None:
        try:
            migrate.upgrade(before_pag1, "pag1")
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=upgrade)
    building, went_through = asyncio.run(_writes_go_through_while_building(before_pag1, thread))
    thread.join(timeout=60)
    assert not thread.is_alive() and not failures, failures
    assert went_through, f"a write to tasks waited behind the index build: {building}"
    assert "CONCURRENTLY" in building.upper()
    assert asyncio.run(_valid_indexes(before_pag1)) == set(INDEXES)


def test_an_interrupted_build_is_rebuilt_by_the_next_run(before_pag1: str) -> None:
    """An invalid index left by a build that broke off is dropped and built again, not kept."""

    async def leave_an_invalid_index() -> None:
        connection = await asyncpg.connect(_dsn(before_pag1))
        try:
            await connection.execute("CREATE INDEX idx_tasks_user_started ON tasks (user_id, started_at, id)")
            await connection.execute(
                "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_tasks_user_started'::regclass"
            )
        finally:
            await connection.close()

    asyncio.run(leave_an_invalid_index())
    migrate.upgrade(before_pag1, "pag1")
    assert asyncio.run(_valid_indexes(before_pag1)) == set(INDEXES)
