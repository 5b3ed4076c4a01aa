"""The run: start both servers, then the throughput, memory and latency phases, then the checks."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from datetime import UTC, datetime

import aiohttp
import psutil

from bench.config import BENCH_PASSWORD, SeedSpec, plain_dsn, require_loopback
from bench.load import LoadResult, run_load
from bench.queries import WrongAnswer
from bench.realtime.checks import latency_figures, verify
from bench.realtime.common import FIRST_CURSOR, REALTIME_EMAIL, REGISTER, RESULTS_DIR, DeliveryFailure, log
from bench.realtime.cpu import CpuMeter
from bench.realtime.gateway import Gateway, warm_up_sockets
from bench.realtime.phases import (
    Outcome,
    plan_workers,
    reset_user,
    send_at_rate,
    send_call,
    stored_messages,
    throughput,
    wait_for_frames,
)
from bench.realtime.profiling import Profiler, server_log_summary
from bench.realtime.subscribers import WorkerHandle
from bench.report import MIB
from bench.seed import ensure_seeded
from bench.server import GatewayProcess, tree_rss


async def run(args: argparse.Namespace) -> Outcome:
    outcome = Outcome()
    run_started = time.monotonic()
    dsn = plain_dsn(args.dsn)
    require_loopback(dsn)
    require_loopback(args.redis_url)
    if not args.skip_seed:
        await ensure_seeded(dsn, SeedSpec())
    await reset_user(dsn)
    # Anything else running (a test suite, another bench) takes CPU from this one: measured, reported.
    busy = await asyncio.to_thread(psutil.cpu_percent, 1.0)
    outcome.figures["machine_busy_before_pct"] = busy
    if busy > 20:
        log(f"warning: the machine was {busy:.0f}% busy before the run started; the figures will show it")

    from services.tokens import generate_key_set

    sockets_per_server = math.ceil(args.subscribers / 2 / args.subs_per_socket)
    env = {
        # One key set for both processes: a token signed by either is accepted by the other.
        "GATEWAY_JWT_PRIVATE_KEYS": json.dumps(generate_key_set().as_dict(private=True)),
        "GATEWAY_WS_MAX_CONNECTIONS_PER_USER": str(sockets_per_server + 10),
        "GATEWAY_WS_MAX_SUBSCRIPTIONS": str(max(args.subs_per_socket, 20)),
        # Every socket comes from 127.0.0.1: the per-address caps would refuse all but the first 100.
        # HTTP connections count too: the sender's pool and the subscriber processes' own, besides the sockets.
        "GATEWAY_MAX_SOCKETS_PER_ADDRESS": str(sockets_per_server + 50),
        "GATEWAY_MAX_CONNECTIONS_PER_ADDRESS": str(sockets_per_server + 300),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    processes = [
        GatewayProcess(dsn, args.redis_url, RESULTS_DIR / f"realtime-server{n}-{stamp}.log", env) for n in (1, 2)
    ]
    if processes[0].port == processes[1].port:
        raise SystemExit("both servers drew the same free port; run again")
    workers: list[WorkerHandle] = []
    outcome.figures["server_logs"] = [str(p.log_path) for p in processes]
    try:
        for process in processes:  # one at a time: the first migrates the database
            log(f"starting `gateway serve` on {process.base_url} (log: {process.log_path})")
            await asyncio.to_thread(process.start)
        outcome.figures["startup_s"] = time.monotonic() - run_started
        connector = aiohttp.TCPConnector(limit=args.concurrency + 8)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=45)) as http:
            anonymous = Gateway(http, processes[0].base_url)
            registered = await anonymous.payload(
                REGISTER,
                {
                    "input": {
                        "email": REALTIME_EMAIL,
                        "password": BENCH_PASSWORD,
                        "firstName": "Real",
                        "lastName": "Time",
                    }
                },
                "register",
            )
            token = str(registered["accessToken"])
            gateways = [Gateway(http, p.base_url, token) for p in processes]
            sender = gateways[0]
            watched = await sender.create_session("realtime: watched by every subscriber")
            load_sessions = [
                await gateways[n % 2].create_session(f"realtime: load {n}") for n in range(args.concurrency)
            ]
            anchor = await sender.send(watched, "anchor")
            cursor_data = await sender.call(FIRST_CURSOR, {"id": watched})
            edge = cursor_data["node"]["messages"]["edges"][0]
            if edge["node"]["seq"] != anchor["seq"]:
                raise WrongAnswer(f"first message of the watched session: {edge} (sent {anchor})")
            after = str(edge["cursor"])
            meter = CpuMeter(processes, workers)

            log(f"warm-up: {args.warmup:g} s of sendMessage, one subscription on each server")
            await warm_up_sockets(gateways, token, load_sessions[0])
            await run_load(
                send_call(gateways, load_sessions, "warm-up"), concurrency=args.concurrency, duration_s=args.warmup
            )

            outcome.throughput.append(
                await throughput(
                    "no subscribers", 0, "own sessions", send_call(gateways, load_sessions, "load"), args, meter
                )
            )

            await asyncio.sleep(1.0)
            rss_before = [tree_rss(p.pid) for p in processes]

            plans, server_of = plan_workers(args, gateways, token, watched, after)
            log(
                f"opening {args.subscribers:,} subscriptions on {sum(len(p.sockets) for p in plans):,} sockets "
                f"({args.subs_per_socket} per socket) from {len(plans)} subscriber process(es)"
            )
            workers.extend(WorkerHandle(plan) for plan in plans)
            opened_at = time.monotonic()
            replies = await asyncio.gather(*(w.ask("open", max(90.0, args.subscribers / 40)) for w in workers))
            failed = sum(r["failed"] for r in replies)
            if failed:
                raise DeliveryFailure(
                    f"{failed} sockets could not subscribe; first: {[f for r in replies for f in r['failures']][:3]}"
                )
            # Subscribed with `after` = the anchor's cursor: whether a subscription is already live or
            # still replaying when the primer commits, it receives the primer exactly once. Its arrival
            # everywhere therefore means every subscription is live.
            primer = await sender.send(watched, "primer")
            expected = [(int(primer["seq"]), str(primer["id"]), "primer")]
            await wait_for_frames(workers, args.subscribers, 60, "primer")
            checks = [await w.ask("check", 30) for w in workers]
            if any(c["odd_count"] or c["events"] for c in checks):
                raise DeliveryFailure(
                    f"subscriptions answered something else than the primer: {[c['odd'] + c['events'] for c in checks]}"
                )
            outcome.figures["subscribe_s"] = time.monotonic() - opened_at
            await asyncio.sleep(args.settle)
            rss_after = [tree_rss(p.pid) for p in processes]
            outcome.figures["rss_before_mib"] = [r / MIB for r in rss_before]
            outcome.figures["rss_after_mib"] = [r / MIB for r in rss_after]
            outcome.figures["rss_per_subscription_kib"] = (sum(rss_after) - sum(rss_before)) / 1024 / args.subscribers

            count = round(args.rate * args.seconds)
            log(
                f"latency: {count} messages at {args.rate:g}/s through {processes[0].base_url}, "
                f"{args.subscribers:,} subscribers"
            )
            profiler = Profiler(processes, args.seconds, stamp) if args.profile else None
            meter.start()
            sent = await send_at_rate(sender, watched, count, args.rate, "latency")
            waited_s = await wait_for_frames(workers, args.subscribers * (1 + count), 30, "latency deliveries")
            outcome.figures["latency_cpu"] = meter.stop()
            outcome.figures["latency_send_span_s"] = (sent[-1].started_ns - sent[0].started_ns) / 1e9
            outcome.figures["latency_drain_s"] = waited_s
            if profiler is not None:
                outcome.figures["profile"] = await asyncio.to_thread(profiler.wait)
            expected += [(s.seq, s.id, s.content) for s in sent]

            outcome.throughput.append(
                await throughput(
                    f"{args.subscribers:,} subscribers idle",
                    args.subscribers,
                    "own sessions",
                    send_call(gateways, load_sessions, "load"),
                    args,
                    meter,
                )
            )

            if args.fanout_duration > 0:
                fan = argparse.Namespace(
                    **{**vars(args), "duration": args.fanout_duration, "concurrency": args.fanout_concurrency}
                )
                fanned: list[tuple[int, str, str]] = []
                frames_so_far = args.subscribers * (1 + count)

                async def drain(result: LoadResult) -> float:
                    return await wait_for_frames(
                        workers,
                        frames_so_far + args.subscribers * result.requests,
                        args.fanout_drain,
                        "fan-out deliveries",
                    )

                row = await throughput(
                    f"{args.subscribers:,} subscribers receiving",
                    args.subscribers,
                    "watched session",
                    send_call([sender], [watched], "fan-out", fanned),
                    fan,
                    meter,
                    drain,
                )
                row.deliveries = args.subscribers * row.result.requests
                outcome.throughput.append(row)
                expected += sorted(fanned)

            log("collecting and checking every delivery")
            collected = [await w.ask("collect", 60) for w in workers]
            # What the database holds must be what the sender was told it wrote (anchor first).
            stored = await stored_messages(dsn, watched)
            told = [(int(anchor["seq"]), str(anchor["id"]))] + [(seq, gid) for seq, gid, _ in expected]
            if stored != told:
                outcome.failures.append(
                    f"the watched session holds {len(stored)} messages, the sender was told "
                    f"of {len(told)}; first difference: "
                    f"{next(((a, b) for a, b in zip(stored, told, strict=False) if a != b), None)}"
                )
    except (WrongAnswer, DeliveryFailure) as error:
        # Say what the servers said, too: a refusal over HTTP usually has its cause in a server log.
        raise type(error)(f"{error}\n{server_log_summary(processes)}") from None
    finally:
        for worker in workers:
            worker.stop()
        for process in processes:
            process.stop()
        try:
            await reset_user(dsn)
        except Exception as error:
            log(f"could not remove {REALTIME_EMAIL}: {error}")

    checked = verify(collected, expected, args.subscribers)
    deliveries = checked.pop("_deliveries")
    outcome.figures["delivery_check"] = checked
    outcome.figures["latency"] = latency_figures(deliveries, sent, server_of, 0)
    outcome.figures["latency_messages"] = count
    outcome.figures["run_s"] = time.monotonic() - run_started
    if not checked["ok"]:
        outcome.failures.append(
            "delivery check failed: " + json.dumps({k: v for k, v in checked.items() if k not in ("ok",)}, indent=1)
        )
    return outcome
