"""A database of the retention tests' own: the purge removes every expired row of the database it runs on,
so it must not run on the rows other tests arrange. The app and its resources run on it too (a freed email
registers again through the API)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest

from migrations import migrate
from tests.conftest import _dsn, create_database, drop_database


@pytest.fixture(scope="module")
def retention_db(pg_server_url: str) -> Iterator[str]:
    url = create_database(pg_server_url, "gateway_retention")
    migrate.upgrade(url)
    yield url
    drop_database(pg_server_url, url)


@pytest.fixture(scope="module")
async def retention_resources(settings: Any, retention_db: str, redis_url: str) -> AsyncIterator[Any]:
    from services.resources import close_resources, open_resources

    opened = await open_resources(settings, database_url=retention_db, redis_url=redis_url)
    yield opened
    await close_resources(opened)


@pytest.fixture
async def rpg(retention_db: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(_dsn(retention_db))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def retention_client(retention_resources: Any) -> AsyncIterator[Any]:
    from graph.app import create_app
    from tests.graphql_client import GraphQLClient

    async with GraphQLClient.over_asgi(create_app(retention_resources)) as connected:
        yield connected


class Rows:
    """Rows written with times `ago` (a PostgreSQL interval) in the past, as the purge will find them."""

    def __init__(self, pg: asyncpg.Connection) -> None:
        self.pg = pg

    async def user(self, *, deleted_ago: str | None = None, email: str | None = None) -> uuid.UUID:
        return await self.pg.fetchval(
            """INSERT INTO users (email, password_hash, first_name, last_name, deleted_at)
               VALUES ($1, 'x', 'R', 'P', now() - $2::text::interval) RETURNING id""",
            email or f"retention-{uuid.uuid4().hex[:12]}@example.com",
            deleted_ago,
        )

    async def session(
        self, user_id: uuid.UUID, *, status: str = "active", deleted_ago: str | None = None, active_ago: str = "0"
    ) -> uuid.UUID:
        return await self.pg.fetchval(
            """INSERT INTO chat_sessions (user_id, status, deleted_at, last_activity_at)
               VALUES ($1, $2, now() - $3::text::interval, now() - $4::text::interval) RETURNING id""",
            user_id,
            status,
            deleted_ago,
            active_ago,
        )

    async def messages(self, session_id: uuid.UUID, count: int) -> None:
        await self.pg.execute(
            """WITH numbered AS (UPDATE chat_sessions SET message_count = message_count + $2 WHERE id = $1
                                 RETURNING message_count - $2 AS base)
               INSERT INTO messages (session_id, role, content, seq)
               SELECT $1, 'user', 'm' || n, base + n FROM numbered, generate_series(1, $2) AS n""",
            session_id,
            count,
        )

    async def agent(self) -> uuid.UUID:
        return await self.pg.fetchval(
            "INSERT INTO mcp_agents (name, endpoint) VALUES ($1, 'http://127.0.0.1:9/mcp') RETURNING id",
            f"retention-{uuid.uuid4().hex[:10]}",
        )

    async def task(
        self,
        user_id: uuid.UUID,
        agent_id: uuid.UUID,
        *,
        status: str = "completed",
        completed_ago: str | None = None,
        session_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        return await self.pg.fetchval(
            """INSERT INTO tasks (user_id, agent_id, session_id, task_type, input_payload, status, completed_at)
               VALUES ($1, $2, $3, 'add', '{}'::jsonb, $4, now() - $5::text::interval) RETURNING id""",
            user_id,
            agent_id,
            session_id,
            status,
            completed_ago,
        )

    async def task_log(self, task_id: uuid.UUID, *, ago: str = "0") -> uuid.UUID:
        return await self.pg.fetchval(
            """INSERT INTO task_logs (task_id, event, logged_at) VALUES ($1, 'claimed', now() - $2::text::interval)
               RETURNING id""",
            task_id,
            ago,
        )

    async def document(
        self, user_id: uuid.UUID, *, deleted_ago: str | None = None, file_path: str | None = None
    ) -> uuid.UUID:
        return await self.pg.fetchval(
            """INSERT INTO documents (user_id, filename, original_filename, mime_type, file_size, file_path,
                                      deleted_at)
               VALUES ($1, 'a.txt', 'a.txt', 'text/plain', 3, $2, now() - $3::text::interval) RETURNING id""",
            user_id,
            file_path or f"missing/{uuid.uuid4()}",
            deleted_ago,
        )

    async def integration(
        self, user_id: uuid.UUID, *, provider: str = "gmail", disconnected_ago: str | None = None
    ) -> uuid.UUID:
        return await self.pg.fetchval(
            """INSERT INTO integrations (user_id, provider, encrypted_tokens, status, deleted_at, metadata)
               VALUES ($1, $2, '', $3, now() - $4::text::interval, $5::jsonb) RETURNING id""",
            user_id,
            provider,
            "disconnected" if disconnected_ago is not None else "connected",
            disconnected_ago,
            json.dumps({}),
        )

    async def document_log(self, document_id: uuid.UUID, *, ago: str = "0") -> uuid.UUID:
        return await self.pg.fetchval(
            """INSERT INTO document_processing_logs (document_id, event, status, logged_at)
               VALUES ($1, 'completed', 'completed', now() - $2::text::interval) RETURNING id""",
            document_id,
            ago,
        )

    async def token_event(self, integration_id: uuid.UUID, *, ago: str = "0") -> uuid.UUID:
        return await self.pg.fetchval(
            """INSERT INTO integration_token_events (integration_id, kind, outcome, attempted_at)
               VALUES ($1, 'refresh', 'ok', now() - $2::text::interval) RETURNING id""",
            integration_id,
            ago,
        )

    async def exists(self, table: str, pk: uuid.UUID) -> bool:
        return bool(await self.pg.fetchval(f"SELECT count(*) FROM {table} WHERE id = $1", pk))

    async def count(self, table: str, where: str = "true", *args: Any) -> int:
        return int(await self.pg.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *args))


@pytest.fixture
def rows(rpg: asyncpg.Connection) -> Rows:
    return Rows(rpg)
