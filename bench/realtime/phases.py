"""The phases' building blocks: the bench user, subscriber plans, rate and closed-loop sending."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench.load import LoadResult, run_load
from bench.queries import WrongAnswer
from bench.realtime.common import REALTIME_EMAIL, DeliveryFailure, log
from bench.realtime.cpu import CpuMeter
from bench.realtime.gateway import Gateway, Sent
from bench.realtime.subscribers import SocketPlan, WorkerHandle, WorkerPlan


@dataclass
class ThroughputRow:
    label: str
    subscribers: int
    target: str
    concurrency: int
    result: LoadResult
    cpu: dict[str, float]
    deliveries: int | None = None

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "label": self.label,
            "subscribers": self.subscribers,
            "target": self.target,
            "concurrency": self.concurrency,
            "messages": r.requests,
            "errors": r.errors,
            "first_error": r.first_error,
            "msg_per_s": r.throughput,
            "p50_ms": r.percentile_ms(50),
            "p99_ms": r.percentile_ms(99),
            "deliveries": self.deliveries,
            **self.cpu,
        }


@dataclass
class Outcome:
    figures: dict[str, Any] = field(default_factory=dict)
    throughput: list[ThroughputRow] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def reset_user(dsn: str) -> None:
    """Remove the realtime user and, by cascade, its sessions and messages."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM users WHERE email = $1", REALTIME_EMAIL)
    finally:
        await conn.close()


async def stored_messages(dsn: str, session_global_id: str) -> list[tuple[int, str]]:
    from strawberry.relay import from_base64, to_base64

    _, pk = from_base64(session_global_id)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT seq, id FROM messages WHERE session_id = $1 ORDER BY seq", pk)
    finally:
        await conn.close()
    return [(int(row["seq"]), to_base64("Message", str(row["id"]))) for row in rows]


def plan_workers(
    args: argparse.Namespace, servers: list[Gateway], token: str, session_id: str, after: str
) -> tuple[list[WorkerPlan], dict[int, int]]:
    """Subscription n goes to server n % 2; sockets carry `subs_per_socket` subscriptions of one server;
    sockets are dealt to the subscriber processes in turn. Returns the plans and subscription -> server."""
    by_server: dict[int, list[int]] = defaultdict(list)
    for number in range(args.subscribers):
        by_server[number % len(servers)].append(number)
    sockets: list[SocketPlan] = []
    for index, numbers in by_server.items():
        for start in range(0, len(numbers), args.subs_per_socket):
            sockets.append(SocketPlan(servers[index].ws_url, numbers[start : start + args.subs_per_socket]))
    plans = [
        WorkerPlan(token, session_id, after, sockets[k :: args.client_procs], compress=15 if args.compress else 0)
        for k in range(args.client_procs)
    ]
    server_of = {n: index for index, numbers in by_server.items() for n in numbers}
    return [p for p in plans if p.sockets], server_of


async def wait_for_frames(workers: list[WorkerHandle], total: int, timeout: float, what: str) -> float:
    """Poll the subscriber processes until `total` frames arrived; the seconds it took."""
    started = time.monotonic()
    while True:
        counts = [await w.ask("count", 10) for w in workers]
        got = sum(c["frames"] for c in counts)
        if got >= total:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise DeliveryFailure(
                f"{what}: {got:,} of {total:,} frames after {timeout:.0f} s "
                f"(socket events: {sum(c['events'] for c in counts)})"
            )
        await asyncio.sleep(0.05)


async def send_at_rate(gateway: Gateway, session_id: str, count: int, rate: float, label: str) -> list[Sent]:
    """Open loop at `rate` messages/s, one request at a time; a late answer delays only the next send."""
    sent: list[Sent] = []
    begin = time.monotonic()
    for number in range(count):
        delay = begin + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        content = f"{label} #{number}"
        started = time.monotonic_ns()
        message = await gateway.send(session_id, content)
        answered = time.monotonic_ns()
        sent.append(Sent(content, started, answered, int(message["seq"]), str(message["id"])))
    return sent


def send_call(
    gateways: list[Gateway], sessions: list[str], label: str, record: list[tuple[int, str, str]] | None = None
) -> Callable[[int], Awaitable[None]]:
    """The closed-loop throughput call: request n goes to gateway n % 2, into session n % len(sessions);
    with `record`, each answer's (seq, id, content) is kept for the delivery check."""

    async def call(number: int) -> None:
        gateway = gateways[number % len(gateways)]
        content = f"{label} {number}"
        message = await gateway.send(sessions[number % len(sessions)], content)
        if not message or not message.get("seq"):
            raise WrongAnswer(f"sendMessage answered {message!r}")
        if record is not None:
            record.append((int(message["seq"]), str(message["id"]), content))

    return call


async def throughput(
    label: str,
    subscribers: int,
    target: str,
    call: Callable[[int], Awaitable[None]],
    args: argparse.Namespace,
    meter: CpuMeter,
    drain: Callable[[LoadResult], Awaitable[float]] | None = None,
) -> ThroughputRow:
    """A closed-loop window; with `drain`, the CPU figures also cover waiting for the deliveries."""
    log(f"throughput: {label}: {args.duration:g} s at concurrency {args.concurrency}")
    meter.start()
    result = await run_load(call, concurrency=args.concurrency, duration_s=args.duration)
    drained = await drain(result) if drain is not None else None
    cpu = meter.stop()
    if drained is not None:
        cpu["drain_s"] = drained
    if result.errors:
        raise WrongAnswer(f"{label}: {result.errors} failed sendMessage calls; first: {result.first_error}")
    return ThroughputRow(label, subscribers, target, args.concurrency, result, cpu)
