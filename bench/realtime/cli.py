"""Realtime benchmark: `messageAdded` fan-out over two gateway processes sharing PostgreSQL and Redis.

Argument parsing, the time limit, printing the report and saving the JSON results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.config import DEFAULT_DSN, DEFAULT_REDIS_URL
from bench.queries import WrongAnswer
from bench.realtime.common import RESULTS_DIR, DeliveryFailure
from bench.realtime.idle import idle_report, run_idle
from bench.realtime.phases import Outcome
from bench.realtime.report import report
from bench.realtime.run import run


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench realtime", description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="messageAdded subscriptions (default 1000)")
    parser.add_argument("--subs-per-socket", type=int, default=1, help="subscriptions per WebSocket (default 1)")
    parser.add_argument("--client-procs", type=int, default=2, help="subscriber processes (default 2)")
    parser.add_argument("--rate", type=float, default=5.0, help="latency phase: messages per second (default 5)")
    parser.add_argument("--seconds", type=float, default=12.0, help="latency phase: seconds of sending (default 12)")
    parser.add_argument("--concurrency", "-c", type=int, default=8, help="throughput: requests in flight (default 8)")
    parser.add_argument("--duration", "-d", type=float, default=10.0, help="throughput: seconds per row (default 10)")
    parser.add_argument("--warmup", "-w", type=float, default=2.0, help="throughput warm-up seconds (default 2)")
    parser.add_argument(
        "--fanout-concurrency",
        type=int,
        default=1,
        help="the 'subscribers receiving' row: requests in flight into the watched session (default 1)",
    )
    parser.add_argument(
        "--fanout-duration",
        type=float,
        default=5.0,
        help="the 'subscribers receiving' row: seconds (default 5; 0 skips the row)",
    )
    parser.add_argument(
        "--fanout-drain",
        type=float,
        default=40.0,
        help="seconds the fan-out deliveries may take to arrive after the row (default 40)",
    )
    parser.add_argument(
        "--compress",
        action="store_true",
        help="subscribers offer permessage-deflate, as browsers and Node's ws do (default: offer none)",
    )
    parser.add_argument(
        "--idle-only",
        action="store_true",
        help="only the marginal RSS per idle subscription on ONE server (bench/realtime/idle.py)",
    )
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between priming and reading RSS")
    parser.add_argument(
        "--time-limit", type=float, default=175.0, help="stop (exit 2) when the whole run takes longer (default 175 s)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy both servers during the latency phase (slows them: figures are not clean)",
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="bench database (seeded if needed)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis shared by the two servers")
    parser.add_argument("--skip-seed", action="store_true", help="do not check or create the seed")
    parser.add_argument("--json", type=Path, help="where to write the results (default bench/results/)")
    parser.add_argument("--no-save", action="store_true", help="print the report only")
    args = parser.parse_args(argv)
    if (
        args.subscribers < 2
        or args.subs_per_socket < 1
        or args.client_procs < 1
        or args.rate <= 0
        or args.seconds <= 0
        or args.concurrency < 1
        or args.duration <= 0
        or args.fanout_concurrency < 1
    ):
        parser.error("counts must be positive (at least 2 subscribers: one per server)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def bounded() -> Outcome:
        # Cancelling `run` still runs its clean-up (subscriber processes, servers, the bench user).
        try:
            return await asyncio.wait_for(run_idle(args) if args.idle_only else run(args), args.time_limit)
        except TimeoutError:
            raise DeliveryFailure(f"the run took more than --time-limit {args.time_limit:g} s") from None

    try:
        outcome = asyncio.run(bounded())
    except (WrongAnswer, DeliveryFailure) as exc:
        print(f"realtime bench failed, no figures: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
    print()
    print(idle_report(outcome) if args.idle_only else report(outcome, args))
    if not args.no_save:
        path = args.json or RESULTS_DIR / f"realtime-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "context": {
                        "when": datetime.now(UTC).isoformat(),
                        "python": platform.python_version(),
                        "cpus": os.cpu_count(),
                        "args": {k: str(v) for k, v in vars(args).items()},
                    },
                    "figures": outcome.figures,
                    "throughput": [row.as_dict() for row in outcome.throughput],
                },
                indent=2,
                default=str,
            )
        )
        print(f"results: {path}")
    for failure in outcome.failures:
        print(f"!! {failure}", file=sys.stderr)
    sys.exit(2 if outcome.failures else 0)
