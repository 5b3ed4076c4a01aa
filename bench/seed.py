"""Create, migrate and fill the bench database.

    python -m bench.seed [--dsn postgresql://postgres@127.0.0.1:5432/gateway_bench] [--users 1000] [--reset]

Rows go in with binary COPY (`copy_records_to_table`): ~0.5 M rows in well under a minute, where ORM
inserts would take many. The finished seed is recorded as a comment on the database (no extra table,
so the schema stays exactly what the migrations make); a re-run with the same spec does nothing, a
different spec or a half-finished seed asks for `--reset`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace

import asyncpg

from bench.config import (
    BENCH_PASSWORD,
    DEFAULT_DSN,
    SeedSpec,
    database_name,
    plain_dsn,
    require_loopback,
    sqlalchemy_url,
    with_database,
)
from bench.dataset import (
    AGENT_COLUMNS,
    DOCUMENT_COLUMNS,
    MESSAGE_COLUMNS,
    SESSION_COLUMNS,
    TASK_COLUMNS,
    USER_COLUMNS,
    Batch,
    Generator,
)

USERS_PER_BATCH = 50  # ~20k messages per COPY: big enough to stream, small enough to hold in memory
TABLES = ("users", "mcp_agents", "chat_sessions", "messages", "documents", "tasks")


async def _marker(admin: asyncpg.Connection, name: str) -> dict[str, int] | bool | None:
    """The stored spec; None if the database exists without one; False if it does not exist."""
    row = await admin.fetchrow(
        "SELECT shobj_description(oid, 'pg_database') AS note FROM pg_database WHERE datname = $1", name
    )
    if row is None:
        return False
    try:
        note = json.loads(row["note"] or "")
    except ValueError:
        return None
    return note.get("bench_seed") if isinstance(note, dict) else None


async def _prepare_database(dsn: str, spec: SeedSpec, reset: bool) -> bool:
    """Make sure the database exists and is empty; False when it already holds this exact spec."""
    name = database_name(dsn)
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        marker = await _marker(admin, name)
        if marker == spec.as_dict() and not reset:
            return False
        if marker is not False and not reset:
            raise SystemExit(
                f"database {name!r} exists but holds {'another seed' if marker else 'no finished seed'}; "
                "re-run with --reset to drop and re-create it"
            )
        ident = '"' + name.replace('"', '""') + '"'
        if marker is not False:
            await admin.execute(f"DROP DATABASE {ident} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {ident}")
    finally:
        await admin.close()
    return True


async def _copy(
    conn: asyncpg.Connection, table: str, columns: tuple[str, ...], records: list[tuple[object, ...]]
) -> None:
    if records:
        await conn.copy_records_to_table(table, records=records, columns=list(columns))


async def _copy_batch(conn: asyncpg.Connection, batch: Batch) -> None:
    # Parents before children: the foreign keys are checked row by row during COPY.
    await _copy(conn, "users", USER_COLUMNS, batch.users)
    await _copy(conn, "chat_sessions", SESSION_COLUMNS, batch.sessions)
    await _copy(conn, "messages", MESSAGE_COLUMNS, batch.messages)
    await _copy(conn, "documents", DOCUMENT_COLUMNS, batch.documents)
    await _copy(conn, "tasks", TASK_COLUMNS, batch.tasks)


async def _fill(dsn: str, spec: SeedSpec) -> dict[str, int]:
    from services.passwords import hash_password  # the product's own hasher, so login verifies it

    generator = Generator(spec, hash_password(BENCH_PASSWORD))
    conn = await asyncpg.connect(dsn)
    try:
        await _copy(conn, "mcp_agents", AGENT_COLUMNS, generator.agents())
        # The heavy user (-1) first, so its rows are seeded even if a big seed is interrupted.
        indexes = [-1, *range(spec.users)]
        for start in range(0, len(indexes), USERS_PER_BATCH):
            async with conn.transaction():
                await _copy_batch(conn, generator.batch(indexes[start : start + USERS_PER_BATCH]))
            done = min(start + USERS_PER_BATCH, len(indexes))
            print(f"\r  seeded {done}/{len(indexes)} users", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        # Fresh statistics and visibility map: without them the first plans are guesses on
        # empty-table estimates and index-only scans are off, which would skew the first runs.
        await conn.execute("VACUUM (ANALYZE) " + ", ".join(TABLES))
        counts = {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}
        note = json.dumps({"bench_seed": spec.as_dict(), "rows": counts})
        name = database_name(dsn).replace('"', '""')
        literal = note.replace("'", "''")
        await conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{literal}'")
        return counts
    finally:
        await conn.close()


async def ensure_seeded(dsn: str = DEFAULT_DSN, spec: SeedSpec | None = None, *, reset: bool = False) -> None:
    """Idempotent: does nothing when the database already holds `spec`."""
    dsn = plain_dsn(dsn)
    require_loopback(dsn)
    spec = spec or SeedSpec()
    if not await _prepare_database(dsn, spec, reset):
        print(f"bench database {database_name(dsn)!r} already seeded with {spec}", file=sys.stderr)
        return
    started = time.perf_counter()
    from migrations import migrate

    # alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(migrate.upgrade, sqlalchemy_url(dsn))
    counts = await _fill(dsn, spec)
    elapsed = time.perf_counter() - started
    print(f"seeded {database_name(dsn)!r} in {elapsed:.1f} s: {counts}", file=sys.stderr)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    defaults = SeedSpec()
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="bench database (created if missing)")
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--sessions", type=int, default=defaults.sessions_per_user, help="sessions per regular user")
    parser.add_argument(
        "--messages", type=int, default=defaults.messages_per_session, help="messages per session of a regular user"
    )
    parser.add_argument("--reset", action="store_true", help="drop and re-create the bench database")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    spec = replace(SeedSpec(), users=args.users, sessions_per_user=args.sessions, messages_per_session=args.messages)
    asyncio.run(ensure_seeded(args.dsn, spec, reset=args.reset))


if __name__ == "__main__":
    main()
