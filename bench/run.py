"""Run the benchmark: seed if needed, start `gateway serve`, measure, print the table.

    python -m bench [--concurrency 16] [--duration 12] [--warmup 3] [--queries nested,node] [--url URL]

See bench/README.md for what each column means.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make the repository importable as `bench`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from bench import baseline, postgraphile_target, queries, report
from bench.config import (
    BENCH_PASSWORD,
    DEFAULT_DSN,
    DEFAULT_REDIS_URL,
    HEAVY_EMAIL,
    SESSIONS_PAGE,
    SeedSpec,
    plain_dsn,
    require_loopback,
)
from bench.load import Call, LoadResult, run_load
from bench.queries import WrongAnswer
from bench.report import Row
from bench.scenarios import SCENARIOS, Scenario
from bench.seed import ensure_seeded
from bench.server import GatewayProcess, ServerSampler, listener_pid, sql_statements, tree_rss

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"  # git-ignored


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def login(client: aiohttp.ClientSession, base_url: str) -> str:
    payload = queries.body(queries.LOGIN, {"input": {"email": HEAVY_EMAIL, "password": BENCH_PASSWORD}})
    async with client.post(
        f"{base_url}/graphql", data=payload, headers={"content-type": "application/json"}
    ) as response:
        raw = await response.read()
    data = queries.data_of(raw)["login"]
    if data.get("errors") or not data.get("accessToken"):
        raise SystemExit(f"login as {HEAVY_EMAIL} failed: {data}")
    return str(data["accessToken"])


async def warm_up(call: Call, args: argparse.Namespace, label: str) -> None:
    log(f"  {label}: warm-up {args.warmup:g} s")
    warm = await run_load(call, concurrency=args.concurrency, duration_s=args.warmup)
    if warm.errors:
        # Figures of a server that fails while warming up would describe the failure, not the server.
        raise SystemExit(f"{label}: {warm.errors} failed requests during warm-up; first: {warm.first_error}")


async def timed(call: Call, args: argparse.Namespace, label: str) -> LoadResult:
    log(f"  {label}: measuring {args.duration:g} s at concurrency {args.concurrency}")
    return await run_load(call, concurrency=args.concurrency, duration_s=args.duration)


async def run_scenario(
    scenario: Scenario, args: argparse.Namespace, base_url: str, server_pid: int | None
) -> list[Row]:
    log(f"{scenario.name}: verifying the gateway's answers against the baseline")
    await scenario.prepare()
    label = f"{scenario.name}/gateway"
    call = scenario.gateway()
    await warm_up(call, args, label)
    # Scraped around the timed window only: login, verification and warm-up ran statements too.
    before = await sql_statements(scenario.http, base_url)
    with ServerSampler(server_pid) if server_pid else contextlib.nullcontext() as server:
        result = await timed(call, args, label)
    after = await sql_statements(scenario.http, base_url)
    sent = result.requests + result.errors
    gateway_row = Row.of(
        scenario.name,
        "gateway",
        args.concurrency,
        result,
        sql_per_request=(after - before) / sent if sent else None,
        peak_rss=server.peak if server is not None else None,
        cpu_s=server.cpu_s if server is not None else None,
    )
    label = f"{scenario.name}/baseline"
    call = scenario.baseline()
    await warm_up(call, args, label)
    base = await timed(call, args, label)
    # One statement per request by construction (the whole answer is one SELECT).
    baseline_row = Row.of(
        scenario.name, "baseline", args.concurrency, base, sql_per_request=1.0, peak_rss=None, cpu_s=None
    )
    return [gateway_row, baseline_row]


async def postgraphile_row(args: argparse.Namespace, dsn: str, pool: asyncpg.Pool, user: baseline.BenchUser) -> Row:
    """The nested read served by PostGraphile V5 over the same database (bench/postgraphile_target.py)."""
    await asyncio.to_thread(postgraphile_target.install)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    server = postgraphile_target.PostGraphileProcess(dsn, args.concurrency, RESULTS_DIR / f"postgraphile-{stamp}.log")
    log(f"starting PostGraphile V5 on {server.base_url} (log: {server.log_path})")
    await asyncio.to_thread(server.start)
    try:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
            target = postgraphile_target.PostGraphileNested(http, server.base_url, user.id)
            log("nested: verifying PostGraphile's answer against the baseline")
            await target.verify(await baseline.nested(pool, user.id))
            call = target.call()
            await warm_up(call, args, "nested/postgraphile")
            before = await postgraphile_target.statements(http, server.base_url)
            with ServerSampler(server.pid) as sampler:
                result = await timed(call, args, "nested/postgraphile")
            after = await postgraphile_target.statements(http, server.base_url)
        sent = result.requests + result.errors
        return Row.of(
            "nested",
            "postgraphile",
            args.concurrency,
            result,
            sql_per_request=(after - before) / sent if sent else None,
            peak_rss=sampler.peak,
            cpu_s=sampler.cpu_s,
        )
    finally:
        server.stop()


def _git_commit() -> str | None:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=BENCH_DIR.parent,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.CalledProcessError):
        return None


async def bench(args: argparse.Namespace) -> int:
    dsn = plain_dsn(args.dsn)
    require_loopback(dsn)
    require_loopback(args.redis_url)
    if not args.skip_seed:
        await ensure_seeded(dsn, SeedSpec())
    pool: asyncpg.Pool = await baseline.connect_pool(dsn, args.concurrency)
    server: GatewayProcess | None = None
    try:
        user = await baseline.load_user(pool, HEAVY_EMAIL)
        if len(user.session_ids) < SESSIONS_PAGE:
            raise SystemExit(f"{HEAVY_EMAIL} has {len(user.session_ids)} sessions, needs {SESSIONS_PAGE}")
        if args.url:
            require_loopback(args.url)
            base_url = args.url.rstrip("/")
            server_pid = args.server_pid or listener_pid(urlsplit(base_url).port or 80)
            if server_pid is None:
                log("no server pid found (pass --server-pid): peak RSS will not be measured")
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            server = GatewayProcess(dsn, args.redis_url, RESULTS_DIR / f"server-{stamp}.log")
            log(f"starting `gateway serve` on {server.base_url} (log: {server.log_path})")
            await asyncio.to_thread(server.start)
            base_url, server_pid = server.base_url, server.pid
        idle_rss = tree_rss(server_pid) if server_pid else 0
        # aiohttp, not httpx: measured here, httpx spends 1-2 ms of CPU per request at concurrency
        # 16 (aiohttp ~0.1 ms), and on a small machine that CPU is taken from the server under test.
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
            token = await login(http, base_url)
            headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
            rows: list[Row] = []
            for name in args.queries:
                scenario = SCENARIOS[name](name, http, f"{base_url}/graphql", headers, pool, user)
                rows += await run_scenario(scenario, args, base_url, server_pid)
        if args.postgraphile:
            rows.append(await postgraphile_row(args, dsn, pool, user))
    finally:
        if server is not None:
            server.stop()
        await pool.close()

    print()
    print(report.table(rows))
    print(
        f"\nserver RSS after start-up: {idle_rss / report.MIB:,.1f} MiB; "
        f"{os.cpu_count()} CPUs shared by server, PostgreSQL and this load generator"
    )
    failed = [row for row in rows if row.errors]
    for row in failed:
        print(f"!! {row.query}/{row.target}: {row.errors} failed requests; first: {row.first_error}")
    if not args.no_save:
        path = args.json or RESULTS_DIR / f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
        report.save(
            path,
            rows,
            {
                "commit": _git_commit(),
                "when": datetime.now(UTC).isoformat(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "concurrency": args.concurrency,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "seed": SeedSpec().as_dict(),
                "idle_rss_mib": idle_rss / report.MIB,
                "external_server": bool(args.url),
                "postgraphile": args.postgraphile,
            },
        )
        print(f"results: {path}")
    return 1 if failed else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", "-c", type=int, default=16, help="in-flight requests (default 16)")
    parser.add_argument("--duration", "-d", type=float, default=12.0, help="seconds per measurement")
    parser.add_argument("--warmup", "-w", type=float, default=3.0, help="seconds of warm-up per measurement")
    parser.add_argument(
        "--queries",
        default="nested,node",
        type=lambda value: [name.strip() for name in value.split(",") if name.strip()],
        help=f"comma-separated, of: {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="bench database (seeded if needed)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis for the started server")
    parser.add_argument("--url", help="measure an already running gateway (its DATABASE_URL must be --dsn)")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's pid, for peak RSS")
    parser.add_argument("--skip-seed", action="store_true", help="do not check or create the seed")
    parser.add_argument("--json", type=Path, help="where to write the results (default bench/results/)")
    parser.add_argument("--no-save", action="store_true", help="print the table only")
    parser.add_argument(
        "--postgraphile",
        action="store_true",
        help="also serve the nested read with PostGraphile V5 (Node 22, installed under bench/postgraphile/)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.queries if name not in SCENARIOS]
    if unknown or not args.queries:
        parser.error(f"--queries takes {', '.join(SCENARIOS)}; got {unknown or 'nothing'}")
    if args.concurrency < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--concurrency must be >= 1, --duration > 0, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> None:
    try:
        code = asyncio.run(bench(parse(argv)))
    except WrongAnswer as exc:
        # Not a crash of the bench: the server answered wrongly, which is the finding to report.
        print(f"verification failed, no figures: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
