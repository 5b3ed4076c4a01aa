"""alembic's history runs both ways on an empty database, and the models describe what it builds.

alembic's env.py drives its async engine with `asyncio.run`, which cannot start inside the test
session's running loop, so everything that migrates is a plain (sync) test.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import models
from migrations import migrate
from tests.conftest import _dsn, create_database, drop_database
from tests.models.test_catalog import SEED_TABLES

VERSION_TABLE = "alembic_version"


@pytest.fixture(scope="module")
def scratch_url(pg_server_url: str) -> Iterator[str]:
    url = create_database(pg_server_url, "gateway_migrations")
    yield url
    drop_database(pg_server_url, url)


def head_revision(url: str) -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    assert head is not None
    return head


async def _leftovers(url: str) -> dict[str, set[str]]:
    """Everything user-made in the schema besides alembic's own bookkeeping table."""
    connection = await asyncpg.connect(_dsn(url))
    try:
        relations = await connection.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname NOT IN ($1, $2)",
            VERSION_TABLE,
            f"{VERSION_TABLE}_pkc",
        )
        # Types a table brings along (its row type) go with it; enums, domains and ranges do not.
        types = await connection.fetch(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd', 'r', 'm')"
        )
        functions = await connection.fetch(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema()"
        )
    finally:
        await connection.close()
    return {
        "relations": {row["relname"] for row in relations},
        "types": {row["typname"] for row in types},
        "functions": {row["proname"] for row in functions},
    }


async def _state(url: str) -> tuple[set[str], list[str]]:
    """The schema's tables and the revisions alembic has recorded."""
    connection = await asyncpg.connect(_dsn(url))
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        table_names = {row["tablename"] for row in rows}
        versions: list[str] = []
        if VERSION_TABLE in table_names:
            rows = await connection.fetch(f"SELECT version_num FROM {VERSION_TABLE}")
            versions = [row["version_num"] for row in rows]
    finally:
        await connection.close()
    return table_names, versions


def _compare(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, models.metadata))


async def model_drift(url: str) -> list[Any]:
    """What `alembic revision --autogenerate` would write for this database: empty when in step."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_compare)
    finally:
        await engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(scratch_url: str) -> None:
    head = head_revision(scratch_url)

    migrate.upgrade(scratch_url)
    table_names, versions = asyncio.run(_state(scratch_url))
    assert set(SEED_TABLES) <= table_names
    assert versions == [head]

    migrate.downgrade(scratch_url, "base")
    table_names, versions = asyncio.run(_state(scratch_url))
    assert not set(SEED_TABLES) & table_names
    assert versions == []
    assert asyncio.run(_leftovers(scratch_url)) == {"relations": set(), "types": set(), "functions": set()}

    migrate.upgrade(scratch_url)
    table_names, versions = asyncio.run(_state(scratch_url))
    assert set(SEED_TABLES) <= table_names
    assert versions == [head]
    # A re-upgrade after a downgrade must land on exactly what the models describe, not a near miss.
    assert asyncio.run(model_drift(scratch_url)) == []


async def test_models_match_the_migrated_database(database_url: str) -> None:
    assert await model_drift(database_url) == []


def test_processes_migrating_at_once_all_reach_head(pg_server_url: str) -> None:
    """Several processes that start together (each `gateway serve` migrates first) on an empty database:
    one migrates, the others wait for it and find the schema at head; none fails. (Processes, not
    threads: alembic's `context` is one per process.)"""
    url = create_database(pg_server_url, "gateway_migrating_at_once")
    script = f"from migrations import migrate; migrate.upgrade({url!r})"
    try:
        processes = [
            subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(3)
        ]
        outputs = [process.communicate(timeout=120)[0].decode() for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0], "\n\n".join(outputs)
        assert asyncio.run(_state(url))[1] == [head_revision(url)]
        assert asyncio.run(model_drift(url)) == []
    finally:
        drop_database(pg_server_url, url)
