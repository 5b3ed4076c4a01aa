"""`python -m bench vault`: the token vault's cached reads per second (and their latency), a read that
misses the cache (row + decrypt + cache write), and the latency of a refresh (lock, token endpoint,
compare-and-set write with its history row, cache write) against the tests' authorization server on
loopback. A scratch database of its own; loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.config import DEFAULT_DSN, DEFAULT_REDIS_URL, require_loopback, scratch_database, sqlalchemy_url


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 0.5) * 1000, 3),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3),
    }


async def measure(database_url: str, redis_url: str, args: argparse.Namespace) -> dict[str, object]:
    from gateway.settings import Settings
    from models import User
    from resolvers import integration_lifecycle
    from resolvers.integration_vault import Vault, seal
    from services.oauth.client import TokenSet
    from services.resources import close_resources, open_resources
    from tests.integrations.auth_server import Grant, auth_server

    async with auth_server() as server:
        settings = Settings(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            GATEWAY_DATA_DIR=tempfile.mkdtemp(prefix="bench-vault-"),
            oauth_settings=server.settings_for("gmail"),
        )
        resources = await open_resources(settings, database_url=database_url, redis_url=redis_url, pool_size=8)
        vault = Vault.of(resources)
        try:
            ids: list[uuid.UUID] = []
            async with resources.sessionmaker() as db, db.begin():
                for index in range(args.integrations):
                    user_id = uuid.uuid4()
                    await db.execute(
                        User.__table__.insert().values(  # type: ignore[attr-defined]
                            id=user_id,
                            email=f"vault-{index}-{user_id.hex[:6]}@bench.example.com",
                            password_hash="x",
                            first_name="V",
                            last_name="B",
                        )
                    )
                    answer = server.state.issue(Grant({"sub": str(index)}, "openid", "bench"))
                    tokens = TokenSet(
                        answer["access_token"], answer["refresh_token"], datetime.now(UTC) + timedelta(hours=1)
                    )
                    row = await integration_lifecycle.connect(
                        db,
                        user_id=user_id,
                        provider="gmail",
                        tokens=seal(resources.box, user_id, "gmail", tokens),
                        scopes=["openid"],
                        capabilities=[],
                        provider_user_id=str(index),
                        identity={},
                    )
                    ids.append(row.id)

            misses: list[float] = []
            for pk in ids:
                started = time.perf_counter()
                await vault.token(pk)
                misses.append(time.perf_counter() - started)

            reads: list[float] = []
            deadline = time.monotonic() + args.duration

            async def reader(offset: int) -> None:
                index = offset
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    await vault.token(ids[index % len(ids)])
                    reads.append(time.perf_counter() - started)
                    index += 1

            began = time.monotonic()
            await asyncio.gather(*(reader(offset) for offset in range(args.concurrency)))
            elapsed = time.monotonic() - began

            refreshes: list[float] = []
            for pk in ids[: args.refreshes]:
                started = time.perf_counter()
                moved = await vault.refresh(pk, force=True)
                refreshes.append(time.perf_counter() - started)
                assert moved is not None and moved.status == "connected"
        finally:
            await close_resources(resources)
    return {
        "cached_reads_per_second": round(len(reads) / elapsed, 1),
        "cached_read": summary(reads),
        "cache_miss_read": summary(misses),
        "refresh": summary(refreshes),
        "concurrency": args.concurrency,
        "integrations": args.integrations,
        "cpu_count": os.cpu_count(),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench vault", description=__doc__)
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="a PostgreSQL server (a scratch database is made on it)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="seconds of cached reads")
    parser.add_argument("--integrations", type=int, default=200)
    parser.add_argument("--refreshes", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    require_loopback(args.dsn)
    require_loopback(args.redis_url)
    from migrations import migrate

    with scratch_database(args.dsn, "bench_vault") as dsn:
        url = sqlalchemy_url(dsn)
        migrate.upgrade(url)
        results = asyncio.run(measure(url, args.redis_url, args))
    text = json.dumps(results, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
