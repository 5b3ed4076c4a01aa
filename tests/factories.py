"""Rows for tests, written straight to PostgreSQL (committed) so every process can see them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from graph.node import global_id

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def gid(type_name: str, pk: uuid.UUID) -> str:
    return global_id(type_name, pk)


async def session(
    pg: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    title: str = "Quarterly BAS",
    status: str = "active",
    minutes: int = 0,
    deleted: bool = False,
    context: dict[str, Any] | None = None,
) -> uuid.UUID:
    at = BASE_TIME + timedelta(minutes=minutes)
    return await pg.fetchval(
        """INSERT INTO chat_sessions (user_id, title, status, last_activity_at, created_at, deleted_at,
                                      context_data)
           VALUES ($1, $2, $3, $4, $4, $5, $6::jsonb) RETURNING id""",
        user_id,
        title,
        status,
        at,
        at if deleted else None,
        json.dumps(context or {}),
    )


async def message(
    pg: asyncpg.Connection,
    session_id: uuid.UUID,
    *,
    content: str = "Hello",
    role: str = "user",
    seconds: int = 0,
    deleted: bool = False,
    metadata: dict[str, Any] | None = None,
) -> uuid.UUID:
    at = BASE_TIME + timedelta(seconds=seconds)
    return await pg.fetchval(
        """WITH numbered AS (UPDATE chat_sessions SET message_count = message_count + 1
                             WHERE id = $1 RETURNING message_count)
           INSERT INTO messages (session_id, role, content, timestamp, deleted_at, metadata, seq)
           SELECT $1, $2, $3, $4, $5, $6::jsonb, message_count FROM numbered RETURNING id""",
        session_id,
        role,
        content,
        at,
        at if deleted else None,
        json.dumps(metadata or {}),
    )


async def document(
    pg: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    name: str = "invoice.pdf",
    category: str | None = "finance",
    tags: list[str] | None = None,
    status: str = "completed",
    minutes: int = 0,
    deleted: bool = False,
    extracted: dict[str, Any] | None = None,
) -> uuid.UUID:
    at = BASE_TIME + timedelta(minutes=minutes)
    return await pg.fetchval(
        """INSERT INTO documents (user_id, filename, original_filename, category, tags, mime_type,
                                  file_size, file_path, processing_status, uploaded_at, deleted_at,
                                  extracted_data, content_text)
           VALUES ($1, $2, $2, $3, $4, 'application/pdf', 1024, '/data/' || $2::varchar, $5, $6, $7, $8::jsonb,
                   'Invoice for services')
           RETURNING id""",
        user_id,
        name,
        category,
        tags or [],
        status,
        at,
        at if deleted else None,
        json.dumps(extracted or {}),
    )


async def integration(
    pg: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    provider: str = "gmail",
    status: str = "connected",
    metadata: dict[str, Any] | None = None,
) -> uuid.UUID:
    return await pg.fetchval(
        """INSERT INTO integrations (user_id, provider, encrypted_tokens, refresh_token_encrypted,
                                     scopes, status, metadata)
           VALUES ($1, $2, 'v1:k1:ciphertext-not-a-token', 'v1:k1:refresh-ciphertext',
                   ARRAY['read'], $3, $4::jsonb)
           RETURNING id""",
        user_id,
        provider,
        status,
        json.dumps(metadata or {}),
    )


async def agent(
    pg: asyncpg.Connection,
    *,
    name: str | None = None,
    status: str = "active",
    configuration: dict[str, Any] | None = None,
    capabilities: list[dict[str, Any]] | None = None,
) -> uuid.UUID:
    return await pg.fetchval(
        """INSERT INTO mcp_agents (name, endpoint, status, configuration, capabilities)
           VALUES ($1, 'http://127.0.0.1:9/mcp', $2, $3::jsonb, $4::jsonb) RETURNING id""",
        name or f"agent-{uuid.uuid4().hex[:10]}",
        status,
        json.dumps(configuration or {}),
        json.dumps(capabilities if capabilities is not None else [{"name": "add", "description": "Add"}]),
    )


async def task(
    pg: asyncpg.Connection,
    user_id: uuid.UUID,
    agent_id: uuid.UUID,
    *,
    session_id: uuid.UUID | None = None,
    status: str = "completed",
    minutes: int = 0,
    task_type: str = "add",
) -> uuid.UUID:
    at = BASE_TIME + timedelta(minutes=minutes)
    return await pg.fetchval(
        """INSERT INTO tasks (user_id, agent_id, session_id, task_type, input_payload, status, started_at)
           VALUES ($1, $2, $3, $4, '{"a": 1, "b": 2}'::jsonb, $5, $6) RETURNING id""",
        user_id,
        agent_id,
        session_id,
        task_type,
        status,
        at,
    )
