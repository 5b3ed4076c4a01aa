"""Batched pages against a big parent (issue 14, point 2): `messages(first: 20)` of a 100,000-message session
batched with a small one, next to two small sessions, read the old way (a `row_number()` window over each
parent's rows) and the way `loaders/pagination.py` reads them now (`unnest(ids)` joined to a `LATERAL ...
LIMIT` per parent), and `totalCount`'s GROUP BY for the same parents.

    .venv/bin/python -m bench pages [--messages 100000] [--small 20] [--runs 200] [--dsn DSN]

Builds a scratch database on the server of `--dsn` (migrated to head, dropped afterwards), times each
statement one after another on one connection (no concurrency: the time is the database's and the driver's),
and prints p50/p95 in ms and the rows each statement read from `messages` (EXPLAIN ANALYZE).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Select, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bench.config import scratch_database, sqlalchemy_url
from loaders.chat import MESSAGE_ORDERS, MessageFilter, messages_of_session
from loaders.pagination import PageRequest, PageSpec, batched_pages, count_rows, fetch_pages
from loaders.session import RequestDb
from migrations import migrate

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
FILL = """
INSERT INTO users (email, password_hash, first_name, last_name) VALUES ('pages@bench.example.com', 'x', 'P', 'B')
RETURNING id"""
SESSION = "INSERT INTO chat_sessions (user_id, title, message_count) VALUES ($1, $2, $3) RETURNING id"
MESSAGES = """
INSERT INTO messages (session_id, role, content, timestamp, seq)
SELECT $1, CASE WHEN n % 2 = 0 THEN 'assistant' ELSE 'user' END, repeat('word ', 40), now() + n * interval '1 ms', n
FROM generate_series(1, $2::int) AS n"""


def window_pages(spec: PageSpec, request: PageRequest, parent_ids: Sequence[uuid.UUID]) -> Select[Any]:
    """The statement `fetch_pages` issued before: every row of each parent ranked, then cut."""
    order = request.order.clauses(reverse=request.backwards)
    ranked = (
        spec.base.where(*spec.where)
        .add_columns(
            func.row_number().over(partition_by=spec.parent, order_by=order).label("_rank"),
            spec.parent.label("_parent"),
        )
        .where(spec.parent.in_(parent_ids))
        .subquery()
    )
    rank, parent = ranked.c["_rank"], ranked.c["_parent"]
    return select(ranked).where(rank <= request.size + 1).order_by(parent, rank)


async def _timed(runs: int, call: Callable[[], Awaitable[object]]) -> dict[str, float]:
    for _ in range(5):
        await call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(len(times) * 0.95) - 1], 2)}


def _rows_read(plan: dict[str, Any]) -> int:
    own = 0
    if plan.get("Relation Name") == "messages":
        own = round((plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * plan.get("Actual Loops", 1))
    return own + sum(_rows_read(child) for child in plan.get("Plans", ()))


async def _explained_rows(engine: AsyncEngine, db: RequestDb, stmt: Select[Any]) -> int:
    """Rows the statement read from `messages`, by EXPLAIN ANALYZE of the SQL and parameters the driver got."""
    sent: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        sent.append((args[2], args[3]))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await db.rows(stmt)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    [(sql, params)] = sent
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        plan = await raw.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *params)
    return _rows_read((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])


async def measure(url: str, messages: int, small: int, runs: int) -> list[tuple[str, dict[str, Any]]]:
    engine = create_async_engine(url, pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with engine.begin() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            user = await raw.fetchval(FILL)
            big = await raw.fetchval(SESSION, user, "big", messages)
            await raw.execute(MESSAGES, big, messages)
            smalls = [await raw.fetchval(SESSION, user, f"small {i}", small) for i in range(2)]
            for session_id in smalls:
                await raw.execute(MESSAGES, session_id, small)
            await raw.execute("ANALYZE")  # committed with the rows: the planner sees them as autovacuum would
        spec = messages_of_session(MessageFilter())
        request = PageRequest(MESSAGE_ORDERS["OLDEST_FIRST"], first=20, filters=MessageFilter())
        results: list[tuple[str, dict[str, Any]]] = []
        db = RequestDb(sessions)
        try:
            for label, parents in (("big + small", [big, smalls[0]]), ("small + small", smalls)):
                for name, build in (("window (before)", window_pages), ("lateral (after)", batched_pages)):
                    stmt = build(spec, request, parents)
                    figures = await _timed(runs, lambda stmt=stmt: db.rows(stmt))  # type: ignore[misc]
                    figures["rows_read"] = await _explained_rows(engine, db, stmt)
                    results.append((f"page {name}, {label}", figures))
                if label == "big + small":
                    pages = await fetch_pages(db, spec, request, parents)
                    assert [len(page.rows) for page in pages.values()] == [20, min(20, small)]
                results.append(
                    (f"totalCount GROUP BY, {label}", await _timed(runs, lambda p=parents: count_rows(db, spec, p)))
                )
        finally:
            await db.close()
        return results
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=20)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--dsn", default=ADMIN_DSN, help="a database on the server to build the scratch one on")
    args = parser.parse_args(argv)
    with scratch_database(args.dsn, "gateway_bench_pages") as dsn:
        url = sqlalchemy_url(dsn)
        migrate.upgrade(url)
        results = asyncio.run(measure(url, args.messages, args.small, args.runs))
    print(f"{'statement':<44} {'p50 ms':>8} {'p95 ms':>8} {'rows read':>10}")
    for name, figures in results:
        print(f"{name:<44} {figures['p50_ms']:>8} {figures['p95_ms']:>8} {figures.get('rows_read', ''):>10}")


if __name__ == "__main__":
    main()
