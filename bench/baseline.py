"""The raw-SQL baseline: the same answers as the GraphQL queries, each in ONE statement over asyncpg.

PostgreSQL builds the whole JSON document (json_agg), global IDs included, so the baseline does what
the gateway must do minus GraphQL, the ORM and HTTP: it is the floor the gateway is compared with. The
filters are the product's defaults (sessions active or archived and not soft-deleted, messages not
soft-deleted), the orders the contract's (sessions by last activity desc, id desc; messages oldest
first, id asc). `role` is upper-cased because GraphQL enums answer by name (`USER`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from bench.config import MESSAGES_PAGE, SESSIONS_PAGE

# base64 of `Type:uuid` is strawberry.relay's global ID; at 44 and 48 input bytes it stays under
# PostgreSQL's 76-character line wrap, so encode() gives exactly the same string.
NESTED_SQL = f"""
SELECT json_build_object('data', json_build_object('viewer', json_build_object('chatSessions',
  json_build_object('edges', coalesce(json_agg(json_build_object('node', json_build_object(
    'id', encode(convert_to('ChatSession:' || s.id::text, 'UTF8'), 'base64'),
    'title', s.title,
    'messages', json_build_object('edges', (
      SELECT coalesce(json_agg(json_build_object('node', json_build_object(
               'id', encode(convert_to('Message:' || m.id::text, 'UTF8'), 'base64'),
               'role', upper(m.role), 'content', m.content, 'timestamp', m.timestamp))
             ORDER BY m.seq), '[]'::json)
      FROM (SELECT id, role, content, timestamp, seq FROM messages
            WHERE session_id = s.id AND deleted_at IS NULL
            ORDER BY seq LIMIT {MESSAGES_PAGE}) AS m))))
    ORDER BY s.last_activity_at DESC, s.id DESC), '[]'::json)))))
FROM (SELECT id, title, last_activity_at FROM chat_sessions
      WHERE user_id = $1 AND deleted_at IS NULL AND status IN ('active', 'archived')
      ORDER BY last_activity_at DESC, id DESC LIMIT {SESSIONS_PAGE}) AS s
"""

NODE_SQL = """
SELECT json_build_object('data', json_build_object('node', json_build_object(
  'id', encode(convert_to('ChatSession:' || id::text, 'UTF8'), 'base64'),
  'title', title, 'messageCount', message_count, 'lastActivityAt', last_activity_at)))
FROM chat_sessions WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL
"""

SESSION_IDS_SQL = f"""
SELECT id FROM chat_sessions
WHERE user_id = $1 AND deleted_at IS NULL AND status IN ('active', 'archived')
ORDER BY last_activity_at DESC, id DESC LIMIT {SESSIONS_PAGE}
"""


@dataclass(frozen=True)
class BenchUser:
    id: uuid.UUID
    session_ids: list[uuid.UUID]  # the first page of sessions, in the contract's order


async def connect_pool(dsn: str, size: int) -> asyncpg.Pool:
    # UTC so timestamps render as `+00:00`, like the gateway's; one connection per concurrent worker,
    # like the gateway's pool, so neither side waits for a connection the other would have.
    pool = await asyncpg.create_pool(
        dsn, min_size=size, max_size=size, server_settings={"timezone": "UTC", "application_name": "gateway-bench"}
    )
    assert pool is not None
    return pool


async def load_user(pool: asyncpg.Pool, email: str) -> BenchUser:
    async with pool.acquire() as conn:
        user_id = await conn.fetchval("SELECT id FROM users WHERE email = $1", email)
        if user_id is None:
            raise SystemExit(f"bench user {email!r} is not in the database: seed it first")
        rows = await conn.fetch(SESSION_IDS_SQL, user_id)
    return BenchUser(user_id, [row["id"] for row in rows])


async def nested(pool: asyncpg.Pool, user_id: uuid.UUID) -> str:
    """The nested document as JSON text (not parsed: the gateway side is not parsed under load either)."""
    async with pool.acquire() as conn:
        return await conn.fetchval(NESTED_SQL, user_id)


async def node(pool: asyncpg.Pool, session_id: uuid.UUID, user_id: uuid.UUID) -> str:
    async with pool.acquire() as conn:
        return await conn.fetchval(NODE_SQL, session_id, user_id)
