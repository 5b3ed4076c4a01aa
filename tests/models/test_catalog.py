"""The migrated database's catalogue, compared exactly with the seed data model's SQL.

`SEED` below is the seed SQL transcribed once, written the way PostgreSQL reports it back
(`format_type`, `pg_get_expr`, `pg_get_indexdef`), so every comparison is plain equality: a column,
constraint or index that is missing, different or unexpected fails. The one decided deviation from the
seed text is already applied: its TIMESTAMP columns are `timestamp with time zone`.

Later migrations may add to the seed tables on purpose; such additions are named in the `ADDED_*`
allowlists (with their full definition, so they are checked too) and anything else fails. New tables
are not this module's concern; it only looks at the seed's seven.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import asyncpg
import pytest

from models.documents import SEARCH_VECTOR

# -- vocabulary: types and defaults as the catalogue spells them -------------------------------------

UUID = "uuid"
TEXT = "text"
TEXT_ARRAY = "text[]"
JSONB = "jsonb"
INTEGER = "integer"
BOOLEAN = "boolean"
TIMESTAMPTZ = "timestamp with time zone"

GEN_RANDOM_UUID = "gen_random_uuid()"
NOW = "now()"
EMPTY_OBJECT = "'{}'::jsonb"
EMPTY_ARRAY = "'[]'::jsonb"
FALSE = "false"
ZERO = "0"


def varchar(length: int) -> str:
    return f"character varying({length})"


def string(value: str) -> str:
    """A varchar column's literal default: PostgreSQL stores the seed's `'active'` with its cast."""
    return f"'{value}'::character varying"


@dataclass(frozen=True)
class ColumnSpec:
    type: str
    nullable: bool = True
    default: str | None = None


def col(type_: str, *, default: str | None = None) -> ColumnSpec:
    return ColumnSpec(type_, nullable=True, default=default)


def not_null(type_: str, *, default: str | None = None) -> ColumnSpec:
    return ColumnSpec(type_, nullable=False, default=default)


ID = not_null(UUID, default=GEN_RANDOM_UUID)


@dataclass(frozen=True)
class ConstraintSpec:
    kind: str  # PRIMARY KEY, UNIQUE, FOREIGN KEY, CHECK or EXCLUDE
    columns: tuple[str, ...] = ()
    references: str | None = None  # "table(column, ...)" for a foreign key
    on_delete: str | None = None
    definition: str | None = None  # pg_get_constraintdef, for CHECK and EXCLUDE only


def primary_key(*columns: str) -> ConstraintSpec:
    return ConstraintSpec("PRIMARY KEY", columns)


def unique(*columns: str) -> ConstraintSpec:
    return ConstraintSpec("UNIQUE", columns)


def foreign_key(column: str, references: str, *, on_delete: str) -> ConstraintSpec:
    return ConstraintSpec("FOREIGN KEY", (column,), references=references, on_delete=on_delete)


def check(definition: str) -> ConstraintSpec:
    return ConstraintSpec("CHECK", definition=definition)


@dataclass(frozen=True)
class IndexSpec:
    keys: tuple[str, ...]  # column names, or the expression exactly as pg_get_indexdef prints it
    method: str = "btree"
    unique: bool = False
    predicate: str | None = None


def btree(*keys: str) -> IndexSpec:
    return IndexSpec(keys, "btree")


def gin(*keys: str) -> IndexSpec:
    return IndexSpec(keys, "gin")


@dataclass(frozen=True)
class TableSpec:
    columns: Mapping[str, ColumnSpec]
    # Keyed by the name PostgreSQL gives an unnamed constraint, which is what running the seed yields.
    constraints: Mapping[str, ConstraintSpec]
    # Indexes the seed creates by name; those backing a PRIMARY KEY / UNIQUE constraint are implied.
    indexes: Mapping[str, IndexSpec] = field(default_factory=dict)


# -- the seed data model -----------------------------------------------------------------------------

SEED: dict[str, TableSpec] = {
    "users": TableSpec(
        columns={
            "id": ID,
            "email": not_null(varchar(255)),
            "password_hash": not_null(varchar(255)),
            "first_name": not_null(varchar(100)),
            "last_name": not_null(varchar(100)),
            "business_name": col(varchar(255)),
            "business_type": col(varchar(100)),
            "phone": col(varchar(20)),
            "timezone": col(varchar(50), default=string("Australia/Sydney")),
            "preferences": col(JSONB, default=EMPTY_OBJECT),
            "email_verified": col(BOOLEAN, default=FALSE),
            "email_verified_at": col(TIMESTAMPTZ),
            "last_login_at": col(TIMESTAMPTZ),
            "created_at": col(TIMESTAMPTZ, default=NOW),
            "updated_at": col(TIMESTAMPTZ, default=NOW),
            "deleted_at": col(TIMESTAMPTZ),
        },
        constraints={
            "users_pkey": primary_key("id"),
            "users_email_key": unique("email"),
        },
        indexes={
            "idx_users_email": btree("email"),
            "idx_users_business_type": btree("business_type"),
            "idx_users_created_at": btree("created_at"),
        },
    ),
    "chat_sessions": TableSpec(
        columns={
            "id": ID,
            "user_id": not_null(UUID),
            "title": col(varchar(255)),
            "context_data": col(JSONB, default=EMPTY_OBJECT),
            "status": col(varchar(20), default=string("active")),
            "message_count": col(INTEGER, default=ZERO),
            "last_activity_at": col(TIMESTAMPTZ, default=NOW),
            "created_at": col(TIMESTAMPTZ, default=NOW),
            "updated_at": col(TIMESTAMPTZ, default=NOW),
            "deleted_at": col(TIMESTAMPTZ),
        },
        constraints={
            "chat_sessions_pkey": primary_key("id"),
            "chat_sessions_user_id_fkey": foreign_key("user_id", "users(id)", on_delete="CASCADE"),
        },
        indexes={
            "idx_chat_sessions_user_id": btree("user_id"),
            "idx_chat_sessions_last_activity": btree("last_activity_at"),
            "idx_chat_sessions_status": btree("status"),
        },
    ),
    "messages": TableSpec(
        columns={
            "id": ID,
            "session_id": not_null(UUID),
            "role": not_null(varchar(20)),
            "content": not_null(TEXT),
            "metadata": col(JSONB, default=EMPTY_OBJECT),
            "token_count": col(INTEGER),
            "processing_time_ms": col(INTEGER),
            "timestamp": col(TIMESTAMPTZ, default=NOW),
            "edited_at": col(TIMESTAMPTZ),
            "deleted_at": col(TIMESTAMPTZ),
        },
        constraints={
            "messages_pkey": primary_key("id"),
            "messages_session_id_fkey": foreign_key("session_id", "chat_sessions(id)", on_delete="CASCADE"),
        },
        indexes={
            "idx_messages_session_id": btree("session_id"),
            "idx_messages_timestamp": btree("timestamp"),
            "idx_messages_role": btree("role"),
        },
    ),
    "integrations": TableSpec(
        columns={
            "id": ID,
            "user_id": not_null(UUID),
            "provider": not_null(varchar(50)),
            "provider_user_id": col(varchar(255)),
            "encrypted_tokens": not_null(TEXT),
            "refresh_token_encrypted": col(TEXT),
            "token_expires_at": col(TIMESTAMPTZ),
            "scopes": col(TEXT_ARRAY),
            "capabilities": col(TEXT_ARRAY),
            "status": col(varchar(20), default=string("connected")),
            "metadata": col(JSONB, default=EMPTY_OBJECT),
            "last_sync_at": col(TIMESTAMPTZ),
            "connected_at": col(TIMESTAMPTZ, default=NOW),
            "updated_at": col(TIMESTAMPTZ, default=NOW),
            "deleted_at": col(TIMESTAMPTZ),
        },
        constraints={
            "integrations_pkey": primary_key("id"),
            "integrations_user_id_fkey": foreign_key("user_id", "users(id)", on_delete="CASCADE"),
            "integrations_user_id_provider_key": unique("user_id", "provider"),
        },
        indexes={
            "idx_integrations_user_id": btree("user_id"),
            "idx_integrations_provider": btree("provider"),
            "idx_integrations_status": btree("status"),
            "idx_integrations_token_expires_at": btree("token_expires_at"),
        },
    ),
    "documents": TableSpec(
        columns={
            "id": ID,
            "user_id": not_null(UUID),
            "filename": not_null(varchar(255)),
            "original_filename": not_null(varchar(255)),
            "title": col(varchar(255)),
            "category": col(varchar(100)),
            "tags": col(TEXT_ARRAY),
            "mime_type": not_null(varchar(100)),
            "file_size": not_null(INTEGER),
            "file_path": not_null(varchar(500)),
            "content_text": col(TEXT),
            "extracted_data": col(JSONB, default=EMPTY_OBJECT),
            "processing_status": col(varchar(20), default=string("pending")),
            "processing_error": col(TEXT),
            "uploaded_at": col(TIMESTAMPTZ, default=NOW),
            "processed_at": col(TIMESTAMPTZ),
            "deleted_at": col(TIMESTAMPTZ),
        },
        constraints={
            "documents_pkey": primary_key("id"),
            "documents_user_id_fkey": foreign_key("user_id", "users(id)", on_delete="CASCADE"),
        },
        indexes={
            "idx_documents_user_id": btree("user_id"),
            "idx_documents_category": btree("category"),
            "idx_documents_tags": gin("tags"),
            "idx_documents_processing_status": btree("processing_status"),
            "idx_documents_uploaded_at": btree("uploaded_at"),
            "idx_documents_content_text": gin("to_tsvector('english'::regconfig, content_text)"),
        },
    ),
    "mcp_agents": TableSpec(
        columns={
            "id": ID,
            "name": not_null(varchar(100)),
            "description": col(TEXT),
            "endpoint": not_null(varchar(500)),
            "capabilities": not_null(JSONB, default=EMPTY_ARRAY),
            "configuration": col(JSONB, default=EMPTY_OBJECT),
            "status": col(varchar(20), default=string("active")),
            "version": col(varchar(20)),
            "health_check_url": col(varchar(500)),
            "last_health_check": col(TIMESTAMPTZ),
            "health_status": col(varchar(20), default=string("unknown")),
            "created_at": col(TIMESTAMPTZ, default=NOW),
            "updated_at": col(TIMESTAMPTZ, default=NOW),
            "deleted_at": col(TIMESTAMPTZ),
        },
        constraints={
            "mcp_agents_pkey": primary_key("id"),
            "mcp_agents_name_key": unique("name"),
        },
        indexes={
            "idx_mcp_agents_name": btree("name"),
            "idx_mcp_agents_status": btree("status"),
            "idx_mcp_agents_capabilities": gin("capabilities"),
        },
    ),
    "tasks": TableSpec(
        columns={
            "id": ID,
            "user_id": not_null(UUID),
            "session_id": col(UUID),
            "agent_id": not_null(UUID),
            "task_type": not_null(varchar(100)),
            "input_payload": not_null(JSONB),
            "output_payload": col(JSONB),
            "status": col(varchar(20), default=string("pending")),
            "error_message": col(TEXT),
            "started_at": col(TIMESTAMPTZ, default=NOW),
            "completed_at": col(TIMESTAMPTZ),
            "processing_time_ms": col(INTEGER),
            "retry_count": col(INTEGER, default=ZERO),
            "metadata": col(JSONB, default=EMPTY_OBJECT),
        },
        constraints={
            "tasks_pkey": primary_key("id"),
            "tasks_user_id_fkey": foreign_key("user_id", "users(id)", on_delete="CASCADE"),
            "tasks_session_id_fkey": foreign_key("session_id", "chat_sessions(id)", on_delete="SET NULL"),
            "tasks_agent_id_fkey": foreign_key("agent_id", "mcp_agents(id)", on_delete="CASCADE"),
        },
        indexes={
            "idx_tasks_user_id": btree("user_id"),
            "idx_tasks_session_id": btree("session_id"),
            "idx_tasks_agent_id": btree("agent_id"),
            "idx_tasks_status": btree("status"),
            "idx_tasks_started_at": btree("started_at"),
        },
    ),
}

# -- deliberate additions by later migrations: table -> name -> full definition ----------------------

ADDED_COLUMNS: dict[str, dict[str, ColumnSpec]] = {
    # 0002: operators may change the shared MCP agent registry.
    "users": {"role": not_null(varchar(20), default=string("user"))},
    # 0003: the gap-free per-session order of messages.
    "messages": {"seq": not_null("integer")},
    # lif1: the run's start, beside the request time `started_at` keeps.
    "tasks": {"run_started_at": col(TIMESTAMPTZ)},
    # doc1: the stored weighted tsvector that ranks document searches.
    "documents": {"search_vector": col("tsvector", default=f"({SEARCH_VECTOR})")},
}
# Seed constraints a later migration replaced on purpose, with what replaced them (named in ADDED_*).
# lif2: UNIQUE(name) holds for live agents only, so a deleted agent's name can be taken again.
REPLACED_CONSTRAINTS: dict[str, dict[str, str]] = {"mcp_agents": {"mcp_agents_name_key": "mcp_agents_name_live_key"}}
ADDED_CONSTRAINTS: dict[str, dict[str, ConstraintSpec]] = {
    "users": {
        "users_role_check": ConstraintSpec(
            "CHECK",
            (),
            definition="CHECK (((role)::text = ANY ((ARRAY['user'::character varying, "
            "'operator'::character varying])::text[])))",
        )
    },
}
ADDED_INDEXES: dict[str, dict[str, IndexSpec]] = {
    "messages": {"idx_messages_session_seq": IndexSpec(("session_id", "seq"), "btree", unique=True)},
    "mcp_agents": {
        "mcp_agents_name_live_key": IndexSpec(("name",), "btree", unique=True, predicate="(deleted_at IS NULL)")
    },
    # doc1: search covers the title with an index of its own (resolvers/document_search.py).
    # pag1: (parent, order key, id) for the lists whose default order no seed index served (issue 14).
    "documents": {
        "idx_documents_title_search": gin(
            "to_tsvector('english'::regconfig, COALESCE(title, ''::character varying)::text)"
        ),
        "idx_documents_user_uploaded": IndexSpec(("user_id", "uploaded_at", "id"), "btree"),
    },
    "chat_sessions": {
        "idx_chat_sessions_user_activity": IndexSpec(("user_id", "last_activity_at", "id"), "btree"),
    },
    "tasks": {
        "idx_tasks_user_started": IndexSpec(("user_id", "started_at", "id"), "btree"),
        "idx_tasks_session_started": IndexSpec(("session_id", "started_at", "id"), "btree"),
        "idx_tasks_agent_user_started": IndexSpec(("agent_id", "user_id", "started_at", "id"), "btree"),
    },
}

SEED_TABLES = tuple(SEED)

# -- reading the catalogue ---------------------------------------------------------------------------

_COLUMNS_SQL = """
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS default
FROM pg_attribute a
JOIN pg_class t ON t.oid = a.attrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND t.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped
"""

_CONSTRAINTS_SQL = """
SELECT con.conname AS name,
       con.contype::text AS kind,
       con.confdeltype::text AS on_delete,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS columns,
       ref.relname AS ref_table,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS ref_columns,
       pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_class ref ON ref.oid = con.confrelid
WHERE n.nspname = current_schema() AND t.relname = $1 AND con.contype IN ('p', 'u', 'f', 'c', 'x')
"""

# Plain key columns come from pg_attribute because pg_get_indexdef quotes keyword-like names
# ("timestamp"); expression keys come from pg_get_indexdef, the only way to read them back.
# Indexes that back this table's own PRIMARY KEY / UNIQUE / EXCLUDE constraints are the constraints'.
_INDEXES_SQL = """
SELECT i.relname AS name,
       am.amname AS method,
       x.indisunique AS is_unique,
       pg_get_expr(x.indpred, x.indrelid) AS predicate,
       ARRAY(SELECT CASE WHEN x.indkey[k - 1] = 0 THEN pg_get_indexdef(x.indexrelid, k, true)
                         ELSE (SELECT a.attname::text FROM pg_attribute a
                               WHERE a.attrelid = x.indrelid AND a.attnum = x.indkey[k - 1])
                    END
             FROM generate_series(1, x.indnkeyatts) AS k
             ORDER BY k) AS keys
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
WHERE n.nspname = current_schema() AND t.relname = $1
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                  WHERE con.conindid = x.indexrelid AND con.conrelid = x.indrelid
                    AND con.contype IN ('p', 'u', 'x'))
"""

_KINDS = {"p": "PRIMARY KEY", "u": "UNIQUE", "f": "FOREIGN KEY", "c": "CHECK", "x": "EXCLUDE"}
_ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


async def tables(pg: asyncpg.Connection) -> set[str]:
    rows = await pg.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
    )
    return {row["relname"] for row in rows}


async def columns(pg: asyncpg.Connection, table: str) -> dict[str, ColumnSpec]:
    rows = await pg.fetch(_COLUMNS_SQL, table)
    return {row["name"]: ColumnSpec(row["type"], row["nullable"], row["default"]) for row in rows}


async def constraints(pg: asyncpg.Connection, table: str) -> dict[str, ConstraintSpec]:
    found: dict[str, ConstraintSpec] = {}
    for row in await pg.fetch(_CONSTRAINTS_SQL, table):
        kind = _KINDS[row["kind"]]
        if kind in ("CHECK", "EXCLUDE"):
            found[row["name"]] = ConstraintSpec(kind, definition=row["definition"])
        elif kind == "FOREIGN KEY":
            found[row["name"]] = ConstraintSpec(
                kind,
                tuple(row["columns"]),
                references=f"{row['ref_table']}({', '.join(row['ref_columns'])})",
                on_delete=_ON_DELETE[row["on_delete"]],
            )
        else:
            found[row["name"]] = ConstraintSpec(kind, tuple(row["columns"]))
    return found


async def indexes(pg: asyncpg.Connection, table: str) -> dict[str, IndexSpec]:
    rows = await pg.fetch(_INDEXES_SQL, table)
    return {
        row["name"]: IndexSpec(tuple(row["keys"]), row["method"], row["is_unique"], row["predicate"]) for row in rows
    }


# -- the checks --------------------------------------------------------------------------------------


def test_allowlists_only_add_to_seed_tables() -> None:
    """An allowlist entry may not silently redefine (and so hide a change to) a seed entry."""
    for allowlist, part in (
        (ADDED_COLUMNS, "columns"),
        (ADDED_CONSTRAINTS, "constraints"),
        (ADDED_INDEXES, "indexes"),
    ):
        for table, added in allowlist.items():
            assert table in SEED, f"{part} allowlist names {table!r}, which is not a seed table"
            seed_part: Mapping[str, object] = getattr(SEED[table], part)
            assert not set(added) & set(seed_part), f"{table}: allowlist redefines seed {part}"


async def test_every_seed_table_exists(pg: asyncpg.Connection) -> None:
    missing = set(SEED) - await tables(pg)
    assert not missing


@pytest.mark.parametrize("table", SEED_TABLES)
async def test_columns_match_seed(pg: asyncpg.Connection, table: str) -> None:
    expected = {**SEED[table].columns, **ADDED_COLUMNS.get(table, {})}
    assert await columns(pg, table) == expected


@pytest.mark.parametrize("table", SEED_TABLES)
async def test_constraints_match_seed(pg: asyncpg.Connection, table: str) -> None:
    expected = {**SEED[table].constraints, **ADDED_CONSTRAINTS.get(table, {})}
    for replaced, replacement in REPLACED_CONSTRAINTS.get(table, {}).items():
        assert replacement in ADDED_INDEXES.get(table, {}) or replacement in ADDED_CONSTRAINTS.get(table, {})
        expected.pop(replaced)
    assert await constraints(pg, table) == expected


@pytest.mark.parametrize("table", SEED_TABLES)
async def test_indexes_match_seed(pg: asyncpg.Connection, table: str) -> None:
    expected = {**SEED[table].indexes, **ADDED_INDEXES.get(table, {})}
    assert await indexes(pg, table) == expected
