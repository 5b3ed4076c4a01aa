"""`--idle-only`: the marginal memory of an idle subscription on ONE `gateway serve` process (issue 14
point 3: "10,000 idle subscribers per process at most 20 KiB each").

One server; a warm-up of 20 sockets (one `messageAdded` each, primed with one message, then closed) pays
the first-use costs of the socket path; RSS is read; then `--subscribers` sockets with one `messageAdded`
each (graphql-transport-ws, aiohttp, no deflate unless `--compress`) are opened from the subscriber
processes and primed with one message, which every one of them must receive; RSS is read again. The figure
is (RSS after - RSS before) / subscribers. Unlike the full run's idle figure, no throughput phase frees heap
for the sockets to reuse first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime

import aiohttp
import asyncpg

from bench.config import BENCH_PASSWORD, EMAIL_DOMAIN, plain_dsn, require_loopback
from bench.queries import WrongAnswer
from bench.realtime.common import FIRST_CURSOR, REGISTER, RESULTS_DIR, DeliveryFailure, log
from bench.realtime.gateway import Gateway
from bench.realtime.phases import Outcome, wait_for_frames
from bench.realtime.profiling import server_log_summary
from bench.realtime.subscribers import SocketPlan, WorkerHandle, WorkerPlan
from bench.report import MIB
from bench.server import GatewayProcess, tree_rss

IDLE_EMAIL = f"idle@{EMAIL_DOMAIN}"  # its own user: a full realtime run at the same time keeps its own
WARM_UP_SOCKETS = 20


async def _reset_user(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM users WHERE email = $1", IDLE_EMAIL)
    finally:
        await conn.close()


async def _session_after_anchor(gateway: Gateway, title: str) -> tuple[str, str]:
    """A new session holding one message, and that message's cursor: subscribed with it, a subscription
    receives exactly what is sent later."""
    session = await gateway.create_session(title)
    anchor = await gateway.send(session, "anchor")
    edge = (await gateway.call(FIRST_CURSOR, {"id": session}))["node"]["messages"]["edges"][0]
    if edge["node"]["seq"] != anchor["seq"]:
        raise WrongAnswer(f"first message of {title}: {edge} (sent {anchor})")
    return session, str(edge["cursor"])


async def _prime(
    gateway: Gateway, session: str, after: str, token: str, url: str, count: int, procs: int, compress: bool
) -> list[WorkerHandle]:
    """`count` sockets with one subscription each, open and primed with one message each."""
    sockets = [SocketPlan(url, [number]) for number in range(count)]
    plans = [WorkerPlan(token, session, after, sockets[k::procs], compress=15 if compress else 0) for k in range(procs)]
    workers = [WorkerHandle(plan) for plan in plans if plan.sockets]
    replies = await asyncio.gather(*(w.ask("open", max(90.0, count / 40)) for w in workers))
    failed = sum(r["failed"] for r in replies)
    if failed:
        raise DeliveryFailure(f"{failed} sockets could not subscribe; first: {[r['failures'] for r in replies][:3]}")
    await gateway.send(session, "primer")
    await wait_for_frames(workers, count, max(60.0, count / 100), "primer")
    checks = [await w.ask("check", 30) for w in workers]
    if any(c["odd_count"] or c["events"] for c in checks):
        raise DeliveryFailure(f"subscriptions answered something else: {[c['odd'] + c['events'] for c in checks]}")
    return workers


async def run_idle(args: argparse.Namespace) -> Outcome:
    outcome = Outcome()
    dsn = plain_dsn(args.dsn)
    require_loopback(dsn)
    require_loopback(args.redis_url)
    await _reset_user(dsn)
    from services.tokens import generate_key_set

    room = args.subscribers + WARM_UP_SOCKETS + 50
    env = {
        "GATEWAY_JWT_PRIVATE_KEYS": json.dumps(generate_key_set().as_dict(private=True)),
        "GATEWAY_WS_MAX_CONNECTIONS_PER_USER": str(room),
        "GATEWAY_MAX_SOCKETS_PER_ADDRESS": str(room),
        "GATEWAY_MAX_CONNECTIONS_PER_ADDRESS": str(room + 300),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    process = GatewayProcess(dsn, args.redis_url, RESULTS_DIR / f"realtime-idle-server-{stamp}.log", env)
    outcome.figures["server_logs"] = [str(process.log_path)]
    workers: list[WorkerHandle] = []
    try:
        log(f"starting `gateway serve` on {process.base_url} (log: {process.log_path})")
        await asyncio.to_thread(process.start)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=45)) as http:
            anonymous = Gateway(http, process.base_url)
            credentials = {"email": IDLE_EMAIL, "password": BENCH_PASSWORD, "firstName": "Idle", "lastName": "Sub"}
            registered = await anonymous.payload(REGISTER, {"input": credentials}, "register")
            token = str(registered["accessToken"])
            gateway = Gateway(http, process.base_url, token)

            log(f"warm-up: {WARM_UP_SOCKETS} sockets, primed, then closed")
            session, after = await _session_after_anchor(gateway, "idle: warm-up")
            warm = await _prime(gateway, session, after, token, gateway.ws_url, WARM_UP_SOCKETS, 1, args.compress)
            for worker in warm:
                await worker.ask("collect", 60)
                worker.stop()
            log(f"warm-up sockets closed; reading RSS in {args.settle:g} s")
            await asyncio.sleep(args.settle)
            before = tree_rss(process.pid)

            log(f"opening {args.subscribers:,} idle subscriptions (one per socket) from {args.client_procs} processes")
            session, after = await _session_after_anchor(gateway, "idle: measured")
            opened_at = time.monotonic()
            workers = await _prime(
                gateway, session, after, token, gateway.ws_url, args.subscribers, args.client_procs, args.compress
            )
            outcome.figures["subscribe_s"] = time.monotonic() - opened_at
            log(f"all {args.subscribers:,} primed; reading RSS in {args.settle:g} s")
            await asyncio.sleep(args.settle)
            after_rss = tree_rss(process.pid)
    except (WrongAnswer, DeliveryFailure) as error:
        raise type(error)(f"{error}\n{server_log_summary([process])}") from None
    finally:
        for worker in workers:
            worker.stop()
        process.stop()
        try:
            await _reset_user(dsn)
        except Exception as error:
            log(f"could not remove {IDLE_EMAIL}: {error}")
    outcome.figures["idle_subscribers"] = args.subscribers
    outcome.figures["rss_before_mib"] = [before / MIB]
    outcome.figures["rss_after_mib"] = [after_rss / MIB]
    outcome.figures["rss_per_subscription_kib"] = (after_rss - before) / 1024 / args.subscribers
    outcome.figures["load_average"] = list(os.getloadavg())
    return outcome


def idle_report(outcome: Outcome) -> str:
    figures = outcome.figures
    load = ", ".join(f"{value:.2f}" for value in figures["load_average"])
    return (
        f"idle memory, one process: {figures['idle_subscribers']:,} subscriptions (one per socket) opened in "
        f"{figures['subscribe_s']:.1f} s\n"
        f"RSS {figures['rss_before_mib'][0]:,.1f} MiB after the warm-up, {figures['rss_after_mib'][0]:,.1f} MiB "
        f"with them open: {figures['rss_per_subscription_kib']:.1f} KiB per idle subscription\n"
        f"load average (1, 5, 15 min) at the end: {load}"
    )
