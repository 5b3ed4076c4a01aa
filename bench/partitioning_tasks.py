"""Tasks partitioned by status and date, documents by user, or not: the hot paths measured on the same rows.

    .venv/bin/python -m bench.partitioning_tasks [--tasks 2000000] [--users 1000] [--documents 500000]
        [--document-users 10000] [--months 24] [--runs 300] [--page-runs 30] [--keep] [--reuse]

Builds the database `gateway_bench_partitioning_tasks` (dropped first and at the end unless `--keep`; never the
bench or test databases) with two schemas holding identical rows and the seed's indexes on both (the primary key
and every unique index must then include the partition keys):

- `plain.tasks` as migrated today; `parted.tasks` LIST-partitioned by `status`, one partition per status, the
  three final ones (completed, failed, cancelled) RANGE-subpartitioned by month of `started_at` (the only date a
  task always has), primary key `(id, status, started_at)`.
- `plain.documents` as migrated today (with the title GIN index and the stored `search_vector`);
  `parted.documents` HASH-partitioned by `user_id` (16 partitions: a LIST per user is impossible at 10,000 users),
  primary key `(id, user_id)`.

Tasks: 2 M over 1,000 users spread over `--months` up to now, status mix 85 % completed, 9 % failed, 2 % cancelled,
2 % running, 2 % pending. Documents: 500,000 over 10,000 users, 40 words of a 2,000-word vocabulary each
(`w0`..`w1999`), 5 % deleted (half of them over 30 days ago). Then times, one statement after another on one
connection, with the same random arguments for both layouts (the viewer's id is always in the statement, as the
loaders put it):

- task page:         a user's tasks page (`viewer.tasks`: user-visible ones, `started_at DESC, id DESC`, 21 rows)
- task page/status:  the same filtered to one status (`filter: {statuses: [FAILED]}`)
- task node:         `node(id:)` of a task (id and viewer)
- task claim:        the worker's claim (advisory lock, the owner's running count, UPDATE pending -> running)
- task finish:       running -> completed (UPDATE ... WHERE status = 'running': a row move between partitions)
- task purge:        batches of the retention purge (`DELETE ... WHERE id IN (SELECT ... LIMIT 1000 FOR UPDATE
                     SKIP LOCKED)`, completed over a year after `completed_at`), and dropping one month for comparison
- doc page / node / search / purge: the same for documents (`search` is the full-text query of `searchDocuments`
  without the headlines: the seed's GIN index on the content, the title's, ranked by `search_vector`)

Prints a table (p50 and p95 in ms) and writes it as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.partitioning import ADMIN_DSN, summary, timed

DATABASE = "gateway_bench_partitioning_tasks"
DOCUMENT_HASHES = 16
FINAL = ("completed", "failed", "cancelled")

TASK_COLUMNS = """
    id uuid NOT NULL DEFAULT gen_random_uuid(), user_id uuid NOT NULL, session_id uuid, agent_id uuid NOT NULL,
    task_type varchar(100) NOT NULL, input_payload jsonb NOT NULL, output_payload jsonb,
    status varchar(20) NOT NULL DEFAULT 'pending', error_message text,
    started_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz, processing_time_ms integer,
    retry_count integer DEFAULT 0, metadata jsonb DEFAULT '{}', run_started_at timestamptz
"""
TASK_INDEXES = """
CREATE INDEX ON {s}.tasks (agent_id); CREATE INDEX ON {s}.tasks (session_id); CREATE INDEX ON {s}.tasks (started_at);
CREATE INDEX ON {s}.tasks (status); CREATE INDEX ON {s}.tasks (user_id);
"""
DOCUMENT_COLUMNS = """
    id uuid NOT NULL DEFAULT gen_random_uuid(), user_id uuid NOT NULL, filename varchar(255) NOT NULL,
    original_filename varchar(255) NOT NULL, title varchar(255), category varchar(100), tags text[],
    mime_type varchar(100) NOT NULL, file_size integer NOT NULL, file_path varchar(500) NOT NULL, content_text text,
    extracted_data jsonb DEFAULT '{}', processing_status varchar(20) DEFAULT 'pending', processing_error text,
    uploaded_at timestamptz DEFAULT now(), processed_at timestamptz, deleted_at timestamptz,
    search_vector tsvector GENERATED ALWAYS AS (setweight(to_tsvector('english', COALESCE(title, '')), 'A')
        || to_tsvector('english', COALESCE(content_text, ''))) STORED
"""
DOCUMENT_INDEXES = """
CREATE INDEX ON {s}.documents (category); CREATE INDEX ON {s}.documents (processing_status);
CREATE INDEX ON {s}.documents USING GIN (to_tsvector('english'::regconfig, content_text));
CREATE INDEX ON {s}.documents USING GIN (tags); CREATE INDEX ON {s}.documents (uploaded_at);
CREATE INDEX ON {s}.documents (user_id);
CREATE INDEX ON {s}.documents USING GIN (to_tsvector('english'::regconfig, (COALESCE(title, ''::varchar))::text));
"""
TASK_ROWS = """
INSERT INTO {s}.tasks (user_id, agent_id, task_type, input_payload, output_payload, status, started_at, completed_at,
                       processing_time_ms, metadata)
SELECT u.id, u.agent, 'lookup_' || (n % 7), '{{"query": "invoice"}}', o.out, o.status, o.at,
       CASE WHEN o.status IN ('completed', 'failed', 'cancelled') THEN o.at + interval '3 seconds' END, 3000,
       CASE WHEN n % 20 = 0 THEN '{{"userVisible": false}}'::jsonb ELSE '{{}}'::jsonb END
FROM generate_series($1::int, $2::int) AS n
JOIN bench_users u ON u.ord = n % $3::int
CROSS JOIN LATERAL (SELECT CASE WHEN r < 0.85 THEN 'completed' WHEN r < 0.94 THEN 'failed'
                                WHEN r < 0.96 THEN 'cancelled' WHEN r < 0.98 THEN 'running'
                                ELSE 'pending' END AS status,
                           $4::timestamptz - random() * $5::interval AS at,
                           CASE WHEN r < 0.85 THEN '{{"answer": "done"}}'::jsonb END AS out
                    FROM (SELECT random() + n * 0 AS r) AS rr) AS o
"""
DOCUMENT_ROWS = """
INSERT INTO {s}.documents (user_id, filename, original_filename, title, category, tags, mime_type, file_size,
                           file_path, content_text, processing_status, uploaded_at, deleted_at)
SELECT u.id, n || '.pdf', 'file ' || n || '.pdf', 'w' || (n % 2000) || ' w' || ((n * 7) % 2000),
       'cat' || (n % 8), ARRAY['t' || (n % 30)], 'application/pdf', 1000 + n % 50000, 'u/' || n || '.pdf',
       (SELECT string_agg('w' || floor(random() * 2000)::int, ' ') FROM generate_series(1, 40 + n * 0)),
       'completed', $4::timestamptz - (n % 700) * interval '1 day',
       CASE WHEN n % 20 = 0 THEN $4::timestamptz - (n % 60) * interval '1 day' END
FROM generate_series($1::int, $2::int) AS n
JOIN bench_doc_users u ON u.ord = n % $3::int
"""


def month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(at: datetime) -> datetime:
    return (at.replace(day=1) + timedelta(days=32)).replace(day=1)


async def build(conn: asyncpg.Connection, args: argparse.Namespace, now: datetime) -> dict[str, float]:
    timings: dict[str, float] = {}
    span = timedelta(days=30 * args.months)
    await conn.execute("CREATE TABLE bench_users (ord int PRIMARY KEY, id uuid NOT NULL, agent uuid NOT NULL)")
    await conn.execute(
        "INSERT INTO bench_users SELECT n, gen_random_uuid(), gen_random_uuid() FROM generate_series(0, $1::int - 1) n",
        args.users,
    )
    await conn.execute("CREATE TABLE bench_doc_users (ord int PRIMARY KEY, id uuid NOT NULL)")
    await conn.execute(
        "INSERT INTO bench_doc_users SELECT n, gen_random_uuid() FROM generate_series(0, $1::int - 1) n",
        args.document_users,
    )
    for schema in ("plain", "parted"):
        started = time.monotonic()
        await conn.execute(f"CREATE SCHEMA {schema}")
        if schema == "plain":
            await conn.execute(f"CREATE TABLE plain.tasks ({TASK_COLUMNS}, PRIMARY KEY (id))")
            await conn.execute(f"CREATE TABLE plain.documents ({DOCUMENT_COLUMNS}, PRIMARY KEY (id))")
        else:
            await parted_tables(conn, now, span)
        for first in range(1, args.tasks + 1, 250_000):
            last = min(args.tasks, first + 249_999)
            await conn.execute(TASK_ROWS.format(s=schema), first, last, args.users, now, span)
        for first in range(1, args.documents + 1, 50_000):
            last = min(args.documents, first + 49_999)
            await conn.execute(DOCUMENT_ROWS.format(s=schema), first, last, args.document_users, now)
        loaded = time.monotonic()
        await conn.execute(TASK_INDEXES.format(s=schema) + DOCUMENT_INDEXES.format(s=schema))
        await conn.execute(f"VACUUM ANALYZE {schema}.tasks")
        await conn.execute(f"VACUUM ANALYZE {schema}.documents")
        timings[f"{schema}_load_s"] = round(loaded - started, 1)
        timings[f"{schema}_index_s"] = round(time.monotonic() - loaded, 1)
        print(schema, "built", timings, flush=True)
    return timings


async def parted_tables(conn: asyncpg.Connection, now: datetime, span: timedelta) -> None:
    await conn.execute(
        f"CREATE TABLE parted.tasks ({TASK_COLUMNS}, PRIMARY KEY (id, status, started_at)) PARTITION BY LIST (status)"
    )
    await conn.execute("CREATE TABLE parted.tasks_pending PARTITION OF parted.tasks FOR VALUES IN ('pending')")
    await conn.execute("CREATE TABLE parted.tasks_running PARTITION OF parted.tasks FOR VALUES IN ('running')")
    for status in FINAL:
        await conn.execute(
            f"CREATE TABLE parted.tasks_{status} PARTITION OF parted.tasks FOR VALUES IN ('{status}')"
            " PARTITION BY RANGE (started_at)"
        )
        low = month_start(now - span)
        while low <= now:  # one month ahead, as a cron would keep it
            high = next_month(low)
            await conn.execute(
                f"CREATE TABLE parted.tasks_{status}_{low:%Y_%m} PARTITION OF parted.tasks_{status}"
                f" FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
            )
            low = high
        await conn.execute(f"CREATE TABLE parted.tasks_{status}_default PARTITION OF parted.tasks_{status} DEFAULT")
    await conn.execute(
        f"CREATE TABLE parted.documents ({DOCUMENT_COLUMNS}, PRIMARY KEY (id, user_id)) PARTITION BY HASH (user_id)"
    )
    for index in range(DOCUMENT_HASHES):
        await conn.execute(
            f"CREATE TABLE parted.documents_{index} PARTITION OF parted.documents"
            f" FOR VALUES WITH (MODULUS {DOCUMENT_HASHES}, REMAINDER {index})"
        )


async def prewarm(conn: asyncpg.Connection) -> None:
    """Read every table and index of both layouts into the OS cache (`pg_prewarm(..., 'read')`): a freshly built
    database on this machine's disk is otherwise timed reading files, and the layout timed first pays for it."""
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    await conn.execute(
        "SELECT pg_prewarm(c.oid, 'read') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN ('plain', 'parted') AND c.relkind IN ('r', 'i', 't')"
    )


async def measure(conn: asyncpg.Connection, schema: str, runs: int, page_runs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    users = [row["id"] for row in await conn.fetch("SELECT id FROM bench_users ORDER BY ord")]
    doc_users = [row["id"] for row in await conn.fetch("SELECT id FROM bench_doc_users ORDER BY ord")]
    task_ids = await conn.fetch(f"SELECT id, user_id FROM {schema}.tasks TABLESAMPLE SYSTEM (0.5)")
    doc_ids = await conn.fetch(f"SELECT id, user_id FROM {schema}.documents TABLESAMPLE SYSTEM (2)")
    words = [f"w{n}" for n in range(2000)]
    task_ids.sort(key=lambda row: row["id"])
    doc_ids.sort(key=lambda row: row["id"])
    t = f"{schema}.tasks"
    d = f"{schema}.documents"
    visible = "(metadata -> 'userVisible') IS DISTINCT FROM 'false'::jsonb"
    statements = {
        "task page": f"SELECT * FROM {t} WHERE user_id = $1 AND {visible} ORDER BY started_at DESC, id DESC LIMIT 21",
        "task page/status": f"SELECT * FROM {t} WHERE user_id = $1 AND {visible} AND status IN ('failed')"
        " ORDER BY started_at DESC, id DESC LIMIT 21",
        "task node": f"SELECT * FROM {t} WHERE id = $1 AND user_id = $2",
        "doc page": f"SELECT id, title, uploaded_at FROM {d} WHERE user_id = $1 AND deleted_at IS NULL"
        " ORDER BY uploaded_at DESC, id DESC LIMIT 21",
        "doc node": f"SELECT id, title, uploaded_at FROM {d} WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL",
        "doc search": f"""SELECT id, title, ts_rank_cd(search_vector, q) AS rank
            FROM {d}, websearch_to_tsquery('english', $2) AS q
            WHERE user_id = $1 AND deleted_at IS NULL AND (to_tsvector('english'::regconfig, content_text) @@ q
               OR to_tsvector('english'::regconfig, (COALESCE(title, ''::varchar))::text) @@ q)
            ORDER BY rank DESC, id LIMIT 21""",
    }
    prepared = {name: await conn.prepare(sql) for name, sql in statements.items()}

    async def call(name: str) -> None:
        if name.startswith("task page"):
            await prepared[name].fetch(users[rng.randrange(len(users))])
        elif name == "task node":
            row = task_ids[rng.randrange(len(task_ids))]
            await prepared[name].fetch(row["id"], row["user_id"])
        elif name == "doc page":
            await prepared[name].fetch(doc_users[rng.randrange(len(doc_users))])
        elif name == "doc node":
            row = doc_ids[rng.randrange(len(doc_ids))]
            await prepared[name].fetch(row["id"], row["user_id"])
        else:
            await prepared[name].fetch(doc_users[rng.randrange(len(doc_users))], words[rng.randrange(len(words))])

    results: dict[str, Any] = {}
    for name in statements:
        # The task pages take seconds with the seed's indexes (no (user_id, started_at) index): fewer runs.
        count = min(runs, page_runs) if name.startswith("task page") else runs
        await timed(max(3, count // 10), lambda name=name: call(name))  # warm the cache and the plans
        results[name] = await timed(count, lambda name=name: call(name))
    results.update(await lifecycle(conn, schema, runs, users, rng))
    return results


async def lifecycle(
    conn: asyncpg.Connection, schema: str, runs: int, users: list[Any], rng: random.Random
) -> dict[str, Any]:
    """New pending tasks (now), claimed one by one as the worker claims them, then finished."""
    fresh = await conn.fetch(
        f"""INSERT INTO {schema}.tasks (user_id, agent_id, task_type, input_payload, status, started_at)
            SELECT (SELECT id FROM bench_users WHERE ord = n % $2::int), gen_random_uuid(), 'lookup', '{{}}',
                   'pending', now() FROM generate_series(1, $1::int) n RETURNING id, user_id""",
        runs,
        len(users),
    )
    await conn.execute(f"ANALYZE {schema}.tasks")
    lock = await conn.prepare("SELECT pg_advisory_xact_lock(820001, hashtext($1::text))")
    running = await conn.prepare(f"SELECT count(*) FROM {schema}.tasks WHERE user_id = $1 AND status = 'running'")
    claim = await conn.prepare(
        f"""UPDATE {schema}.tasks SET status = 'running', run_started_at = now(),
            metadata = metadata || '{{"claimedBy": "w1"}}' WHERE id = $1 AND status IN ('pending')
            RETURNING id, retry_count"""
    )
    finish = await conn.prepare(
        f"""UPDATE {schema}.tasks SET status = 'completed', completed_at = now(), processing_time_ms = 12,
            output_payload = '{{"answer": "done"}}' WHERE id = $1 AND status IN ('running') RETURNING id"""
    )
    claims, finishes = [], []
    for row in fresh:
        started = time.perf_counter()
        async with conn.transaction():
            await lock.fetchval(str(row["user_id"]))
            await running.fetchval(row["user_id"])
            assert await claim.fetchrow(row["id"]) is not None
        claims.append(time.perf_counter() - started)
    for row in fresh:
        started = time.perf_counter()
        assert await finish.fetchrow(row["id"]) is not None
        finishes.append(time.perf_counter() - started)
    return {"task claim": summary(claims), "task finish": summary(finishes)}


async def purge(conn: asyncpg.Connection, schema: str, table: str, expired: str, batches: int) -> dict[str, Any]:
    batch = await conn.prepare(
        f"""DELETE FROM {schema}.{table} WHERE id IN (
              SELECT id FROM {schema}.{table} WHERE {expired} LIMIT 1000 FOR UPDATE SKIP LOCKED) RETURNING id"""
    )
    samples, removed = [], 0
    for _ in range(batches):
        started = time.perf_counter()
        async with conn.transaction():
            rows = len(await batch.fetch())
        samples.append(time.perf_counter() - started)
        removed += rows
        if rows < 1000:
            break
    return {"rows": removed, **summary(samples)}


async def drop_month(conn: asyncpg.Connection, now: datetime, months: int) -> dict[str, Any]:
    name = f"tasks_completed_{month_start(now - timedelta(days=30 * months)):%Y_%m}"
    rows = await conn.fetchval(f"SELECT count(*) FROM parted.{name}")
    started = time.perf_counter()
    await conn.execute(f"ALTER TABLE parted.tasks_completed DETACH PARTITION parted.{name}")
    await conn.execute(f"DROP TABLE parted.{name}")
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 3)}


EXPIRED_TASK = "status = 'completed' AND completed_at < now() - interval '1 year'"
EXPIRED_DOCUMENT = "deleted_at < now() - interval '30 days'"


def table(report: dict[str, Any]) -> str:
    lines = ["| path | plain p50 / p95 ms | partitioned p50 / p95 ms |", "|---|---|---|"]
    for name in report["plain"]:
        plain, parted = report["plain"][name], report["parted"][name]
        lines.append(f"| {name} | {plain['p50']} / {plain['p95']} | {parted['p50']} / {parted['p95']} |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--documents", type=int, default=500_000)
    parser.add_argument("--document-users", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--page-runs", type=int, default=30, help="runs of the two task pages (slow)")
    parser.add_argument("--purge-batches", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="measure the database an earlier `--keep` run built")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end (default: dropped)")
    args = parser.parse_args()
    now = datetime.now(UTC)
    admin = await asyncpg.connect(ADMIN_DSN)
    if not args.reuse:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    await admin.close()
    conn = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + "/" + DATABASE)
    report: dict[str, Any] = {"args": vars(args)}
    try:
        if not args.reuse:
            report["build"] = await build(conn, args, now)
        await prewarm(conn)
        for schema in ("plain", "parted"):
            report[schema] = await measure(conn, schema, args.runs, args.page_runs, seed=13)
            print(schema, report[schema], flush=True)
        for schema in ("plain", "parted"):
            report[schema]["task purge"] = await purge(conn, schema, "tasks", EXPIRED_TASK, args.purge_batches)
            report[schema]["doc purge"] = await purge(conn, schema, "documents", EXPIRED_DOCUMENT, args.purge_batches)
        report["drop_month"] = await drop_month(conn, now, args.months - 1)
    finally:
        await conn.close()
        if not args.keep:
            admin = await asyncpg.connect(ADMIN_DSN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            await admin.close()
    print(table(report))
    print("parted: dropping one month of completed tasks:", report["drop_month"])
    results = Path(__file__).with_name("results")
    results.mkdir(exist_ok=True)
    path = results / f"partitioning-tasks-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
