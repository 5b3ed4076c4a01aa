"""Messages partitioned by month, or not: the hot paths measured on the same data in both layouts.

    .venv/bin/python -m bench.partitioning [--messages 10000000] [--per-session 50] [--months 24] [--runs 2000]

Builds the database `gateway_bench_partitioning` (dropped first) with two schemas holding identical rows:
`plain` (messages as migrated today: PRIMARY KEY (id), UNIQUE (session_id, seq)) and `parted` (declarative
RANGE partitions on `timestamp`, one per month plus a default one; the primary key must then include the
partition key, `(id, timestamp)`, and so must any unique index: `(session_id, seq, timestamp)`). Then times, one
statement after another on one connection, with random arguments drawn the same way for both layouts:

- page:      a session's page of 50 messages after a cursor (`ChatSession.messages`), as the loader reads it
- page+hint: the same with the session's time span as a predicate (what pruning would need from the loader)
- node:      `node(id:)` of a message (by id alone, joined to its session for the visibility rule)
- send:      `sendMessage`'s transaction (the counting UPDATE ... RETURNING, then the INSERT)
- purge:     the retention purge's batches (`DELETE ... WHERE id IN (SELECT ... LIMIT 1000 FOR UPDATE SKIP
             LOCKED)`) over the messages of expired sessions, and, for the partitioned table, what dropping one
             month would cost (which no seed rule could use: every rule is by session state, not message time)

Prints a table (p50/p95/p99 in ms, and builds in seconds) and writes it as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "gateway_bench_partitioning"
START = datetime(2025, 1, 1, tzinfo=UTC)
COLUMNS = (
    "id, session_id, role, content, metadata, token_count, processing_time_ms, timestamp, edited_at, deleted_at, seq"
)

SESSIONS_DDL = """
CREATE TABLE {s}.chat_sessions (
    id uuid PRIMARY KEY, user_id uuid NOT NULL, title varchar(255), context_data jsonb DEFAULT '{{}}',
    status varchar(20) DEFAULT 'active', message_count integer DEFAULT 0,
    last_activity_at timestamptz DEFAULT now(), created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(), deleted_at timestamptz
);
CREATE INDEX ON {s}.chat_sessions (user_id);
CREATE INDEX ON {s}.chat_sessions (last_activity_at);
CREATE INDEX ON {s}.chat_sessions (status);
"""
MESSAGE_COLUMNS = """
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES {s}.chat_sessions(id) ON DELETE CASCADE,
    role varchar(20) NOT NULL, content text NOT NULL, metadata jsonb DEFAULT '{{}}',
    token_count integer, processing_time_ms integer, timestamp timestamptz NOT NULL DEFAULT now(),
    edited_at timestamptz, deleted_at timestamptz, seq integer NOT NULL
"""
PLAIN_DDL = "CREATE TABLE plain.messages (" + MESSAGE_COLUMNS.format(s="plain") + ", PRIMARY KEY (id))"
PARTED_DDL = (
    "CREATE TABLE parted.messages ("
    + MESSAGE_COLUMNS.format(s="parted")
    + ", PRIMARY KEY (id, timestamp)) PARTITION BY RANGE (timestamp)"
)
PLAIN_INDEXES = """
CREATE INDEX ON plain.messages (session_id);
CREATE INDEX ON plain.messages (timestamp);
CREATE INDEX ON plain.messages (role);
CREATE UNIQUE INDEX ON plain.messages (session_id, seq);
"""
PARTED_INDEXES = """
CREATE INDEX ON parted.messages (session_id);
CREATE INDEX ON parted.messages (timestamp);
CREATE INDEX ON parted.messages (role);
CREATE UNIQUE INDEX ON parted.messages (session_id, seq, timestamp);
"""


def month(index: int) -> datetime:
    year, month0 = divmod(START.month - 1 + index, 12)
    return START.replace(year=START.year + year, month=month0 + 1)


async def build(conn: asyncpg.Connection, messages: int, per_session: int, months: int) -> dict[str, float]:
    sessions = max(1, messages // per_session)
    timings: dict[str, float] = {}
    await conn.execute(
        "CREATE TABLE bench_sessions (ord integer PRIMARY KEY, id uuid NOT NULL, created_at timestamptz)"
    )
    # Each session lives within one month (its messages a minute apart), spread evenly over `months`.
    await conn.execute(
        """INSERT INTO bench_sessions
           SELECT n, gen_random_uuid(),
                  $2::timestamptz + ((n % $3::int) * interval '1 month') + (random() * interval '25 days')
           FROM generate_series(1, $1::int) AS n""",
        sessions,
        START,
        months,
    )
    for schema, ddl, indexes in (("plain", PLAIN_DDL, PLAIN_INDEXES), ("parted", PARTED_DDL, PARTED_INDEXES)):
        started = time.monotonic()
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(SESSIONS_DDL.format(s=schema))
        await conn.execute(ddl)
        if schema == "parted":
            for index in range(months + 2):  # one ahead, as the cron keeps it
                low, high = month(index), month(index + 1)
                await conn.execute(
                    f"CREATE TABLE parted.messages_{low:%Y_%m} PARTITION OF parted.messages "
                    f"FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
                )
            await conn.execute("CREATE TABLE parted.messages_default PARTITION OF parted.messages DEFAULT")
        await conn.execute(
            f"""INSERT INTO {schema}.chat_sessions (id, user_id, message_count, last_activity_at, created_at)
                SELECT id, id, $1::int, created_at + $1::int * interval '1 minute', created_at FROM bench_sessions""",
            per_session,
        )
        chunk = max(1, 200_000 // per_session)
        for first in range(1, sessions + 1, chunk):
            await conn.execute(
                f"""INSERT INTO {schema}.messages (session_id, role, content, metadata, timestamp, seq)
                    SELECT b.id, CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END,
                           'Message ' || n || ' about invoices, quotes and the BAS for this quarter.',
                           '{{}}'::jsonb, b.created_at + n * interval '1 minute', n
                    FROM bench_sessions b, generate_series(1, $3::int) AS n
                    WHERE b.ord BETWEEN $1::int AND $2::int""",
                first,
                first + chunk - 1,
                per_session,
            )
        loaded = time.monotonic()
        await conn.execute(indexes)
        await conn.execute(f"VACUUM ANALYZE {schema}.chat_sessions")
        await conn.execute(f"VACUUM ANALYZE {schema}.messages")
        timings[f"{schema}_load_s"] = round(loaded - started, 1)
        timings[f"{schema}_index_s"] = round(time.monotonic() - loaded, 1)
    return timings


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": round(statistics.fmean(ordered) * 1000, 3)}


async def timed(runs: int, one: Any) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await one()
        samples.append(time.perf_counter() - started)
    return summary(samples)


async def measure(conn: asyncpg.Connection, schema: str, runs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    sessions = await conn.fetch("SELECT id, created_at FROM bench_sessions ORDER BY ord")
    message_ids = [row["id"] for row in await conn.fetch(f"SELECT id FROM {schema}.messages TABLESAMPLE SYSTEM (1)")]
    message_ids.sort()
    rng_ids = random.Random(seed)
    per_session = int(await conn.fetchval(f"SELECT message_count FROM {schema}.chat_sessions LIMIT 1"))
    page = await conn.prepare(
        f"""SELECT {COLUMNS} FROM {schema}.messages WHERE session_id = $1 AND deleted_at IS NULL AND seq > $2
            ORDER BY seq LIMIT 51"""
    )
    hinted = await conn.prepare(
        f"""SELECT {COLUMNS} FROM {schema}.messages WHERE session_id = $1 AND deleted_at IS NULL AND seq > $2
              AND timestamp >= $3 AND timestamp < $3 + interval '40 days'
            ORDER BY seq LIMIT 51"""
    )
    node = await conn.prepare(
        f"""SELECT m.id, m.content, m.seq FROM {schema}.messages m JOIN {schema}.chat_sessions s ON s.id = m.session_id
            WHERE m.id = $1 AND s.user_id = s.id AND s.deleted_at IS NULL AND m.deleted_at IS NULL"""
    )
    count = await conn.prepare(
        f"UPDATE {schema}.chat_sessions SET message_count = message_count + 1, last_activity_at = statement_timestamp()"
        " WHERE id = $1 RETURNING message_count"
    )
    insert = await conn.prepare(
        f"""INSERT INTO {schema}.messages (session_id, role, content, seq, timestamp)
            VALUES ($1, 'user', 'A new message', $2, now()) RETURNING id"""
    )

    def any_session() -> asyncpg.Record:
        return sessions[rng.randrange(len(sessions))]

    async def one_page() -> None:
        await page.fetch(any_session()["id"], rng.randrange(per_session - 10))

    async def one_hinted_page() -> None:
        chosen = any_session()
        await hinted.fetch(chosen["id"], rng.randrange(per_session - 10), chosen["created_at"])

    async def one_node() -> None:
        await node.fetchrow(message_ids[rng_ids.randrange(len(message_ids))])

    async def one_send() -> None:
        chosen = any_session()
        async with conn.transaction():
            seq = await count.fetchval(chosen["id"])
            await insert.fetchval(chosen["id"], seq)  # now(): the current month's partition

    results: dict[str, Any] = {}
    for name, one in (("page", one_page), ("page+hint", one_hinted_page), ("node", one_node), ("send", one_send)):
        await timed(max(20, runs // 10), one)  # warm the cache and the plans
        results[name] = await timed(runs, one)
    return results


async def purge(conn: asyncpg.Connection, schema: str, sessions: list[uuid.UUID]) -> dict[str, float]:
    """Messages of `sessions` removed as the retention purge removes them; then the sessions."""
    batch = await conn.prepare(
        f"""DELETE FROM {schema}.messages WHERE id IN (
              SELECT id FROM {schema}.messages WHERE session_id = ANY($1::uuid[]) LIMIT 1000 FOR UPDATE SKIP LOCKED)
            RETURNING id"""
    )
    samples, removed = [], 0
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        async with conn.transaction():
            rows = len(await batch.fetch(sessions))
        samples.append(time.perf_counter() - t0)
        removed += rows
        if rows < 1000:
            break
    await conn.execute(f"DELETE FROM {schema}.chat_sessions WHERE id = ANY($1::uuid[])", sessions)
    total = time.perf_counter() - started
    return {"rows": removed, "seconds": round(total, 2), "rows_per_s": round(removed / total), **summary(samples)}


async def drop_month(conn: asyncpg.Connection) -> dict[str, float]:
    name = f"messages_{month(0):%Y_%m}"
    rows = await conn.fetchval(f"SELECT count(*) FROM parted.{name}")
    started = time.perf_counter()
    await conn.execute(f"ALTER TABLE parted.messages DETACH PARTITION parted.{name}")
    await conn.execute(f"DROP TABLE parted.{name}")
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 3)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--per-session", type=int, default=50)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--purge-sessions", type=int, default=2000)
    parser.add_argument("--reuse", action="store_true", help="measure the database an earlier run built")
    args = parser.parse_args()

    admin = await asyncpg.connect(ADMIN_DSN)
    if not args.reuse:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    await admin.close()
    conn = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + "/" + DATABASE)
    report: dict[str, Any] = {"messages": args.messages, "per_session": args.per_session, "months": args.months}
    try:
        if not args.reuse:
            started = time.monotonic()
            report["build"] = await build(conn, args.messages, args.per_session, args.months)
            report["build"]["total_s"] = round(time.monotonic() - started, 1)
            print("built:", report["build"], flush=True)
        report["sizes_mb"] = {
            schema: round(
                int(
                    await conn.fetchval(
                        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
                        " ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname LIKE 'messages%'"
                        " AND c.relkind = 'r'",
                        schema,
                    )
                    or 0
                )
                / 2**20
            )
            for schema in ("plain", "parted")
        }
        for schema in ("plain", "parted"):
            report[schema] = await measure(conn, schema, args.runs, seed=13)
            print(schema, report[schema], flush=True)
        doomed = [
            row["id"]
            for row in await conn.fetch("SELECT id FROM bench_sessions ORDER BY ord DESC LIMIT $1", args.purge_sessions)
        ]
        for schema in ("plain", "parted"):
            report[schema]["purge"] = await purge(conn, schema, doomed)
            print(schema, "purge", report[schema]["purge"], flush=True)
        report["parted"]["drop_month"] = await drop_month(conn)
        print("parted drop month", report["parted"]["drop_month"], flush=True)
    finally:
        await conn.close()
    results = Path(__file__).with_name("results")
    results.mkdir(exist_ok=True)
    path = results / f"partitioning-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
