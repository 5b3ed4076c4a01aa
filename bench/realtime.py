"""Realtime benchmark: `messageAdded` fan-out over two gateway processes sharing PostgreSQL and Redis.

    python -m bench realtime [--subscribers 1000] [--rate 5] [--seconds 12] [--concurrency 8] [--duration 10]
    python -m bench.realtime ...   (the same)

Measures publish-to-receive latency over every delivery to 1,000 subscriptions, the idle memory of an
open subscription, and sustained `sendMessage` throughput without and with the subscribers attached.
Every subscription must receive every message exactly once and in `seq` order, or the run fails.
See bench/README.md ("Realtime") for what each figure means.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # `python bench/realtime.py`: make the repository importable as `bench`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from multiprocessing.connection import Connection  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import psutil  # noqa: E402

from bench import queries  # noqa: E402
from bench.config import (  # noqa: E402
    BENCH_PASSWORD,
    DEFAULT_DSN,
    DEFAULT_REDIS_URL,
    EMAIL_DOMAIN,
    SeedSpec,
    plain_dsn,
    require_loopback,
)
from bench.load import LoadResult, run_load  # noqa: E402
from bench.queries import WrongAnswer  # noqa: E402
from bench.report import MIB  # noqa: E402
from bench.seed import ensure_seeded  # noqa: E402
from bench.server import GatewayProcess, tree_cpu_s, tree_rss  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"  # git-ignored

# A user of its own (not in the seed): deleted before and after each run, so the seeded data the HTTP
# bench verifies stays exactly what the seed wrote.
REALTIME_EMAIL = f"realtime@{EMAIL_DOMAIN}"

REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { accessToken errors { code message } } }
"""
CREATE_SESSION = """
mutation($input: CreateChatSessionInput!) {
  createChatSession(input: $input) { chatSession { id } errors { code message } } }
"""
SEND = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id seq } errors { code message } } }
"""
FIRST_CURSOR = """
query($id: ID!) { node(id: $id) { ... on ChatSession { messages(first: 1) { edges { cursor node { seq } } } } } }
"""
# The contract's subscription, with `after` (see `open_subscribers`: it is what makes "subscribed"
# observable without a race).
SUBSCRIBE = """
subscription($id: ID!, $after: String) { messageAdded(sessionId: $id, after: $after) { id seq content } }
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DeliveryFailure(AssertionError):
    """The gateway lost, duplicated, reordered or refused a delivery: the finding, not a bench bug."""


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank (an observed value), like bench.load."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


# --------------------------------------------------------------------------------------------------
# Subscriber processes. The subscribers live in processes of their own, so reading 1,000 frames per
# message never delays the sender's clock (t0) and the load spreads over both cores. On Linux
# time.monotonic_ns() is CLOCK_MONOTONIC, one clock for every process, so receipt times compare with
# the sender's.


@dataclass
class SocketPlan:
    url: str
    subscriptions: list[int]  # global subscription numbers (also the graphql-transport-ws operation ids)


@dataclass
class WorkerPlan:
    token: str
    session_id: str
    after: str
    sockets: list[SocketPlan]
    open_concurrency: int = 32


class SubscriberWorker:
    """Holds its sockets open and records every frame as (receipt time, raw text); it parses nothing
    until the run is over, so a frame costs the client as little as possible while timing."""

    def __init__(self, plan: WorkerPlan) -> None:
        self.plan = plan
        self.frames: list[tuple[int, str]] = []
        self.events: list[str] = []  # socket-level trouble: refused inits, closes we did not ask for
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[None]] = []
        self.stopping = False
        self.http: aiohttp.ClientSession | None = None

    async def open(self) -> dict[str, Any]:
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        gate = asyncio.Semaphore(self.plan.open_concurrency)
        started = time.monotonic()
        results = await asyncio.gather(*(self._open_one(plan, gate) for plan in self.plan.sockets),
                                       return_exceptions=True)
        failures = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
        return {"sockets": len(self.sockets), "failures": failures[:5], "failed": len(failures),
                "seconds": time.monotonic() - started}

    async def _open_one(self, plan: SocketPlan, gate: asyncio.Semaphore) -> None:
        assert self.http is not None
        async with gate:
            ws = await self.http.ws_connect(plan.url, protocols=("graphql-transport-ws",), autoping=True,
                                            heartbeat=None, max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=5))
            await ws.send_str(json.dumps({"type": "connection_init",
                                          "payload": {"authorization": f"Bearer {self.plan.token}"}}))
            ack = await asyncio.wait_for(ws.receive(), 15)
            if ack.type != aiohttp.WSMsgType.TEXT or json.loads(ack.data).get("type") != "connection_ack":
                await ws.close()
                raise DeliveryFailure(f"connection_init refused: {ack.type.name} {ack.data!r} "
                                      f"(close code {ws.close_code})")
            for number in plan.subscriptions:
                await ws.send_str(json.dumps({
                    "id": str(number), "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"id": self.plan.session_id,
                                                                  "after": self.plan.after}}}))
            self.sockets.append(ws)
            self.readers.append(asyncio.create_task(self._read(ws, plan)))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, plan: SocketPlan) -> None:
        append, clock, text = self.frames.append, time.monotonic_ns, aiohttp.WSMsgType.TEXT
        async for message in ws:
            if message.type is text:
                append((clock(), message.data))
            else:
                self.events.append(f"socket of subscriptions {plan.subscriptions[:3]}...: {message.type.name}")
        if not self.stopping:
            self.events.append(f"socket of subscriptions {plan.subscriptions[:3]}... closed by the server "
                               f"(code {ws.close_code})")

    async def close(self) -> None:
        self.stopping = True
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        if self.http is not None:
            await self.http.close()

    def collected(self) -> dict[str, Any]:
        """Frames by subscription: [(receipt ns, seq, id, content)] in arrival order, and everything else."""
        deliveries: dict[int, list[tuple[int, int, str, str]]] = defaultdict(list)
        other: list[str] = []
        for received, raw in self.frames:
            message = json.loads(raw)
            kind = message.get("type")
            payload = message.get("payload") or {}
            if kind == "next" and not payload.get("errors"):
                node = payload["data"]["messageAdded"]
                deliveries[int(message["id"])].append((received, int(node["seq"]), node["id"], node["content"]))
            elif kind in ("ping", "pong"):
                continue
            else:
                other.append(raw[:500])
        return {"deliveries": dict(deliveries), "other": other, "events": self.events}


def worker_main(conn: Connection, plan: WorkerPlan) -> None:
    """The subscriber process: obeys ("open" | "count" | "check" | "collect" | "exit") over its pipe."""
    try:
        import uvloop  # comes with uvicorn[standard]; a cheaper client leaves more CPU to the servers

        uvloop.install()
    except ImportError:
        pass

    async def serve() -> None:
        worker = SubscriberWorker(plan)
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[str] = asyncio.Queue()

        def read_pipe() -> None:  # a thread: the pipe stays blocking (add_reader would make it not)
            while True:
                try:
                    command = conn.recv()
                except (EOFError, OSError):
                    command = "exit"
                loop.call_soon_threadsafe(inbox.put_nowait, command)
                if command == "exit":
                    return

        threading.Thread(target=read_pipe, name="pipe", daemon=True).start()
        try:
            while True:
                command = await inbox.get()
                if command == "open":
                    conn.send(await worker.open())
                elif command == "count":
                    conn.send({"frames": len(worker.frames), "events": len(worker.events)})
                elif command == "check":  # parse what arrived so far: anything but `next` data?
                    odd = [raw[:300] for _, raw in worker.frames
                           if (m := json.loads(raw)).get("type") != "next" or (m.get("payload") or {}).get("errors")]
                    conn.send({"frames": len(worker.frames), "odd": odd[:5], "odd_count": len(odd),
                               "events": worker.events[:5]})
                elif command == "collect":
                    await worker.close()
                    conn.send(worker.collected())
                elif command == "exit":
                    return
        finally:
            await worker.close()

    asyncio.run(serve())


class WorkerHandle:
    """The orchestrator's end of one subscriber process."""

    def __init__(self, plan: WorkerPlan) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=worker_main, args=(child, plan), daemon=True)
        self.process.start()
        child.close()
        self.ps = psutil.Process(self.process.pid)
        self.subscriptions = sum(len(s.subscriptions) for s in plan.sockets)

    async def ask(self, command: str, timeout: float) -> dict[str, Any]:
        self.conn.send(command)
        if not await asyncio.to_thread(self.conn.poll, timeout):
            raise SystemExit(f"subscriber process {self.process.pid} did not answer {command!r} in {timeout:.0f} s")
        return self.conn.recv()  # type: ignore[no-any-return]

    def cpu_s(self) -> float:
        try:
            times = self.ps.cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return times.user + times.system

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send("exit")
            except OSError:
                pass
            self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# --------------------------------------------------------------------------------------------------
# The gateway over HTTP.


class Gateway:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str | None = None) -> None:
        self.http = http
        self.url = f"{base_url}/graphql"
        self.ws_url = self.url.replace("http://", "ws://", 1)
        self.headers = {"content-type": "application/json"}
        if token:
            self.headers["authorization"] = f"Bearer {token}"

    async def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            async with self.http.post(self.url, data=queries.body(query, variables), headers=self.headers) as response:
                raw = await response.read()
                if response.status != 200:
                    raise WrongAnswer(f"HTTP {response.status}: {raw[:300]!r}")
        except (aiohttp.ClientError, TimeoutError) as error:
            operation = " ".join(query.split())[:60]
            raise WrongAnswer(f"{self.url}: no answer to `{operation}...` after {time.monotonic() - started:.1f} s: "
                              f"{type(error).__name__} {error}") from None
        return queries.data_of(raw)

    async def payload(self, query: str, variables: dict[str, Any], field_name: str) -> dict[str, Any]:
        data = (await self.call(query, variables))[field_name]
        if data.get("errors"):
            raise WrongAnswer(f"{field_name}: {data['errors']}")
        return data  # type: ignore[no-any-return]

    async def create_session(self, title: str) -> str:
        data = await self.payload(CREATE_SESSION, {"input": {"title": title}}, "createChatSession")
        return str(data["chatSession"]["id"])

    async def send(self, session_id: str, content: str) -> dict[str, Any]:
        data = await self.payload(SEND, {"input": {"sessionId": session_id, "content": content}}, "sendMessage")
        return data["message"]  # type: ignore[no-any-return]


@dataclass
class Sent:
    content: str
    started_ns: int  # just before the request left
    answered_ns: int  # when the HTTP response had arrived in full (t0 of the latency figures)
    seq: int
    id: str


# --------------------------------------------------------------------------------------------------
# CPU accounting: the servers, this client (orchestrator + subscriber processes), the whole machine.


class CpuMeter:
    def __init__(self, servers: list[GatewayProcess], workers: list[WorkerHandle]) -> None:
        self.servers = servers
        self.workers = workers
        self.me = psutil.Process()

    def _now(self) -> tuple[float, float, float, float]:
        server = sum(tree_cpu_s(s.pid) for s in self.servers)
        mine = self.me.cpu_times()
        client = mine.user + mine.system + sum(w.cpu_s() for w in self.workers)
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return time.monotonic(), server, client, busy

    @staticmethod
    def _by_process() -> dict[int, tuple[str, float]]:
        found = {}
        for process in psutil.process_iter(["name", "cpu_times"]):
            times = process.info["cpu_times"]
            if times is not None:
                found[process.pid] = (process.info["name"] or "?", times.user + times.system)
        return found

    def start(self) -> None:
        self._start = self._now()
        self._processes = self._by_process()

    def stop(self) -> dict[str, float]:
        end = self._now()
        wall = end[0] - self._start[0]
        figures = {"wall_s": wall, "server_cpu_s": end[1] - self._start[1], "client_cpu_s": end[2] - self._start[2],
                   "machine_busy_s": end[3] - self._start[3]}
        # Who "everything else" is: CPU by process name, ours left out (servers, their children, client).
        ours = {self.me.pid, *(w.process.pid for w in self.workers)}
        for server in self.servers:
            try:
                root = psutil.Process(server.pid)
                ours |= {root.pid, *(child.pid for child in root.children(recursive=True))}
            except psutil.NoSuchProcess:
                pass
        names: Counter[str] = Counter()
        for pid, (name, cpu) in self._by_process().items():
            if pid not in ours:
                names[name] += cpu - self._processes.get(pid, (name, 0.0))[1]
        for name, cpu in names.most_common(3):
            if cpu > 0.05 * wall:
                figures[f"other:{name}"] = cpu
        return figures


# --------------------------------------------------------------------------------------------------
# The run.


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
        return {"label": self.label, "subscribers": self.subscribers, "target": self.target,
                "concurrency": self.concurrency, "messages": r.requests, "errors": r.errors,
                "first_error": r.first_error, "msg_per_s": r.throughput, "p50_ms": r.percentile_ms(50),
                "p99_ms": r.percentile_ms(99), "deliveries": self.deliveries, **self.cpu}


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


def plan_workers(args: argparse.Namespace, servers: list[Gateway], token: str, session_id: str,
                 after: str) -> tuple[list[WorkerPlan], dict[int, int]]:
    """Subscription n goes to server n % 2; sockets carry `subs_per_socket` subscriptions of one server;
    sockets are dealt to the subscriber processes in turn. Returns the plans and subscription -> server."""
    by_server: dict[int, list[int]] = defaultdict(list)
    for number in range(args.subscribers):
        by_server[number % len(servers)].append(number)
    sockets: list[SocketPlan] = []
    for index, numbers in by_server.items():
        for start in range(0, len(numbers), args.subs_per_socket):
            sockets.append(SocketPlan(servers[index].ws_url, numbers[start:start + args.subs_per_socket]))
    plans = [WorkerPlan(token, session_id, after, sockets[k::args.client_procs]) for k in range(args.client_procs)]
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
            raise DeliveryFailure(f"{what}: {got:,} of {total:,} frames after {timeout:.0f} s "
                                  f"(socket events: {sum(c['events'] for c in counts)})")
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


def send_call(gateways: list[Gateway], sessions: list[str], label: str,
              record: list[tuple[int, str, str]] | None = None) -> Callable[[int], Awaitable[None]]:
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


async def throughput(label: str, subscribers: int, target: str, call: Callable[[int], Awaitable[None]],
                     args: argparse.Namespace, meter: CpuMeter,
                     drain: Callable[[LoadResult], Awaitable[float]] | None = None) -> ThroughputRow:
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


def verify(collected: list[dict[str, Any]], expected: list[tuple[int, str, str]], subscribers: int) -> dict[str, Any]:
    """Every subscription must hold exactly `expected` ((seq, id, content) in seq order), once each."""
    deliveries: dict[int, list[tuple[int, int, str, str]]] = {}
    other: list[str] = []
    events: list[str] = []
    for part in collected:
        deliveries.update(part["deliveries"])
        other += part["other"]
        events += part["events"]
    want = [seq for seq, _, _ in expected]
    by_seq = {seq: (gid, content) for seq, gid, content in expected}
    problems: list[str] = []
    missing = duplicated = unexpected = reordered = wrong = 0
    for number in range(subscribers):
        got = deliveries.get(number, [])
        seqs = [seq for _, seq, _, _ in got]
        counts = Counter(seqs)
        miss = [s for s in want if s not in counts]
        dup = [s for s, c in counts.items() if c > 1]
        extra = [s for s in counts if s not in by_seq]
        bad = [s for _, s, gid, content in got if s in by_seq and by_seq[s] != (gid, content)]
        unordered = seqs != sorted(seqs)
        missing += len(miss)
        duplicated += sum(counts[s] - 1 for s in dup)
        unexpected += len(extra)
        wrong += len(bad)
        reordered += int(unordered)
        if (miss or dup or extra or bad or unordered) and len(problems) < 10:
            problems.append(f"subscription {number}: {len(got)} received; missing seq {miss[:10]}"
                            f"{'...' if len(miss) > 10 else ''}; duplicated {dup[:10]}; unexpected {extra[:10]};"
                            f" wrong id/content at {bad[:10]}; in order: {not unordered}")
    received = sum(len(v) for v in deliveries.values())
    return {"expected": subscribers * len(want), "received": received, "missing": missing,
            "duplicated": duplicated, "unexpected": unexpected, "wrong": wrong,
            "subscriptions_out_of_order": reordered, "other_frames": len(other), "socket_events": len(events),
            "problems": problems, "other_sample": other[:5], "events_sample": events[:5],
            "ok": not (missing or duplicated or unexpected or wrong or reordered or other or events)
            and received == subscribers * len(want),
            "_deliveries": deliveries}


def latency_figures(deliveries: dict[int, list[tuple[int, int, str, str]]], sent: list[Sent],
                    server_of: dict[int, int], sender_server: int) -> dict[str, Any]:
    by_seq = {s.seq: s for s in sent}
    groups: dict[str, list[float]] = defaultdict(list)
    last: dict[int, float] = defaultdict(lambda: -math.inf)
    for number, got in deliveries.items():
        where = "same process as sender" if server_of[number] == sender_server else "other process"
        for received, seq, _, _ in got:
            message = by_seq.get(seq)
            if message is None:
                continue
            from_answer = (received - message.answered_ns) / 1e6
            groups["all"].append(from_answer)
            groups[where].append(from_answer)
            groups["from request start"].append((received - message.started_ns) / 1e6)
            last[seq] = max(last[seq], from_answer)
    groups["last subscriber of a message"] = list(last.values())
    rows = {}
    for name in ("all", "same process as sender", "other process", "from request start",
                 "last subscriber of a message"):
        values = groups.get(name, [])
        rows[name] = {"n": len(values), "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
                      "p99_ms": percentile(values, 99), "max_ms": max(values) if values else math.nan,
                      "min_ms": min(values) if values else math.nan}
    http = [(s.answered_ns - s.started_ns) / 1e6 for s in sent]
    rows["sendMessage HTTP round trip"] = {"n": len(http), "p50_ms": percentile(http, 50),
                                           "p95_ms": percentile(http, 95), "p99_ms": percentile(http, 99),
                                           "max_ms": max(http) if http else math.nan,
                                           "min_ms": min(http) if http else math.nan}
    return rows


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
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    processes = [GatewayProcess(dsn, args.redis_url, RESULTS_DIR / f"realtime-server{n}-{stamp}.log", env)
                 for n in (1, 2)]
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
            registered = await anonymous.payload(REGISTER, {"input": {
                "email": REALTIME_EMAIL, "password": BENCH_PASSWORD, "firstName": "Real", "lastName": "Time"}},
                "register")
            token = str(registered["accessToken"])
            gateways = [Gateway(http, p.base_url, token) for p in processes]
            sender = gateways[0]
            watched = await sender.create_session("realtime: watched by every subscriber")
            load_sessions = [await gateways[n % 2].create_session(f"realtime: load {n}")
                             for n in range(args.concurrency)]
            anchor = await sender.send(watched, "anchor")
            cursor_data = await sender.call(FIRST_CURSOR, {"id": watched})
            edge = cursor_data["node"]["messages"]["edges"][0]
            if edge["node"]["seq"] != anchor["seq"]:
                raise WrongAnswer(f"first message of the watched session: {edge} (sent {anchor})")
            after = str(edge["cursor"])
            meter = CpuMeter(processes, workers)

            log(f"warm-up: {args.warmup:g} s of sendMessage, one subscription on each server")
            await warm_up_sockets(gateways, token, load_sessions[0])
            await run_load(send_call(gateways, load_sessions, "warm-up"), concurrency=args.concurrency,
                           duration_s=args.warmup)

            outcome.throughput.append(await throughput(
                "no subscribers", 0, "own sessions", send_call(gateways, load_sessions, "load"), args, meter))

            await asyncio.sleep(1.0)
            rss_before = [tree_rss(p.pid) for p in processes]

            plans, server_of = plan_workers(args, gateways, token, watched, after)
            log(f"opening {args.subscribers:,} subscriptions on {sum(len(p.sockets) for p in plans):,} sockets "
                f"({args.subs_per_socket} per socket) from {len(plans)} subscriber process(es)")
            workers.extend(WorkerHandle(plan) for plan in plans)
            opened_at = time.monotonic()
            replies = await asyncio.gather(*(w.ask("open", 90) for w in workers))
            failed = sum(r["failed"] for r in replies)
            if failed:
                raise DeliveryFailure(f"{failed} sockets could not subscribe; first: "
                                      f"{[f for r in replies for f in r['failures']][:3]}")
            # Subscribed with `after` = the anchor's cursor: whether a subscription is already live or
            # still replaying when the primer commits, it receives the primer exactly once. Its arrival
            # everywhere therefore means every subscription is live.
            primer = await sender.send(watched, "primer")
            expected = [(int(primer["seq"]), str(primer["id"]), "primer")]
            await wait_for_frames(workers, args.subscribers, 60, "primer")
            checks = [await w.ask("check", 30) for w in workers]
            if any(c["odd_count"] or c["events"] for c in checks):
                raise DeliveryFailure("subscriptions answered something else than the primer: "
                                      f"{[c['odd'] + c['events'] for c in checks]}")
            outcome.figures["subscribe_s"] = time.monotonic() - opened_at
            await asyncio.sleep(args.settle)
            rss_after = [tree_rss(p.pid) for p in processes]
            outcome.figures["rss_before_mib"] = [r / MIB for r in rss_before]
            outcome.figures["rss_after_mib"] = [r / MIB for r in rss_after]
            outcome.figures["rss_per_subscription_kib"] = (sum(rss_after) - sum(rss_before)) / 1024 / args.subscribers

            count = round(args.rate * args.seconds)
            log(f"latency: {count} messages at {args.rate:g}/s through {processes[0].base_url}, "
                f"{args.subscribers:,} subscribers")
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

            outcome.throughput.append(await throughput(
                f"{args.subscribers:,} subscribers idle", args.subscribers, "own sessions",
                send_call(gateways, load_sessions, "load"), args, meter))

            if args.fanout_duration > 0:
                fan = argparse.Namespace(**{**vars(args), "duration": args.fanout_duration,
                                            "concurrency": args.fanout_concurrency})
                fanned: list[tuple[int, str, str]] = []
                frames_so_far = args.subscribers * (1 + count)

                async def drain(result: LoadResult) -> float:
                    return await wait_for_frames(workers, frames_so_far + args.subscribers * result.requests,
                                                 args.fanout_drain, "fan-out deliveries")

                row = await throughput(f"{args.subscribers:,} subscribers receiving", args.subscribers,
                                       "watched session", send_call([sender], [watched], "fan-out", fanned),
                                       fan, meter, drain)
                row.deliveries = args.subscribers * row.result.requests
                outcome.throughput.append(row)
                expected += sorted(fanned)

            log("collecting and checking every delivery")
            collected = [await w.ask("collect", 60) for w in workers]
            # What the database holds must be what the sender was told it wrote (anchor first).
            stored = await stored_messages(dsn, watched)
            told = [(int(anchor["seq"]), str(anchor["id"]))] + [(seq, gid) for seq, gid, _ in expected]
            if stored != told:
                outcome.failures.append(f"the watched session holds {len(stored)} messages, the sender was told "
                                        f"of {len(told)}; first difference: "
                                        f"{next(((a, b) for a, b in zip(stored, told) if a != b), None)}")
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
        except Exception as error:  # noqa: BLE001  (cleanup must not hide the run's own error)
            log(f"could not remove {REALTIME_EMAIL}: {error}")

    checked = verify(collected, expected, args.subscribers)
    deliveries = checked.pop("_deliveries")
    outcome.figures["delivery_check"] = checked
    outcome.figures["latency"] = latency_figures(deliveries, sent, server_of, 0)
    outcome.figures["latency_messages"] = count
    outcome.figures["run_s"] = time.monotonic() - run_started
    if not checked["ok"]:
        outcome.failures.append("delivery check failed: " + json.dumps(
            {k: v for k, v in checked.items() if k not in ("ok",)}, indent=1))
    return outcome


class Profiler:
    """`py-spy record` on both servers for the latency phase (with --profile; py-spy must be installed)."""

    def __init__(self, processes: list[GatewayProcess], seconds: float, stamp: str) -> None:
        import shutil
        import subprocess

        executable = str(Path(sys.executable).with_name("py-spy"))
        if not Path(executable).exists():
            executable = shutil.which("py-spy") or ""
        if not executable:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.outputs = [RESULTS_DIR / f"realtime-profile-server{n}-{stamp}.txt" for n in (1, 2)]
        self.children = [subprocess.Popen(
            [executable, "record", "--pid", str(process.pid), "--duration", str(math.ceil(seconds)),
             "--rate", "200", "--format", "raw", "--output", str(output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for process, output in zip(processes, self.outputs)]

    def wait(self) -> list[str]:
        summaries = []
        for child, output in zip(self.children, self.outputs):
            try:
                _, err = child.communicate(timeout=30)
            except Exception:  # noqa: BLE001
                child.kill()
                err = b"timed out"
            if child.returncode != 0 or not output.exists():
                summaries.append(f"py-spy failed on {output.name}: {err.decode(errors='replace')[-300:]}")
                continue
            summaries.append(summarize_profile(output))
        return summaries


IDLE_FRAMES = ("EpollSelector.select", "select", "poll")
AREAS = {  # first component of a py-spy frame's path -> what it is
    "graphql": "graphql-core (execution)", "strawberry": "strawberry", "uvicorn": "uvicorn", "websockets":
    "websockets (frames)", "starlette": "starlette", "asyncio": "asyncio loop", "sqlalchemy": "SQLAlchemy",
    "asyncpg": "asyncpg", "redis": "redis-py", "json": "json", "graph": "gateway code", "services":
    "gateway code", "loaders": "gateway code", "resolvers": "gateway code", "gateway": "gateway code",
    "models": "gateway code", "joserfc": "tokens (joserfc)", "cryptography": "tokens (joserfc)",
}


def _frame(frame: str) -> tuple[str, str]:
    """'name (dir/file.py:12)' -> ('name (dir/file.py)', 'dir')."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return (f"{name} ({path})" if path else name), path.split("/", 1)[0]


TRUNK = ("run", "serve", "<module>", "Runner.run", "BaseEventLoop.run_until_complete", "BaseEventLoop.run_forever",
         "BaseEventLoop._run_once", "Handle._run")


def _trunk(name: str) -> bool:
    """The frames every sample of `gateway serve` shares (CLI and event loop)."""
    function, _, where = name.partition(" (")
    return function in TRUNK or where.startswith(("typer/", "click/", "gateway)"))


def summarize_profile(path: Path, top: int = 15) -> str:
    """From py-spy's collapsed stacks: where the busy samples went, by library (self time) and by
    function (inclusive, leaving out the trunk every sample shares)."""
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(frame) for frame in stack.split(";")]
        if frames[-1][0].split(" (", 1)[0] in IDLE_FRAMES:
            idle += count
            continue
        total += count
        for name in {name for name, _ in frames}:
            inclusive[name] += count
        areas[AREAS.get(frames[-1][1], frames[-1][1] or "?")] += count
    if not total:
        return f"{path.name}: no busy samples"
    lines = [f"{path.name}: {total:,} busy samples at 200 Hz ({idle:,} more waiting in select)",
             "  self time by library: " + ", ".join(f"{name} {c / total * 100:.0f}%"
                                                    for name, c in areas.most_common(10))]
    branch = [(name, c) for name, c in inclusive.most_common() if not _trunk(name)][:top]
    lines += [f"  inclusive {c / total * 100:5.1f}%  {name}" for name, c in branch]
    return "\n".join(lines)


def server_log_summary(processes: list[GatewayProcess]) -> str:
    """Per server: how many tracebacks its log holds and the last exception line."""
    lines = []
    for process in processes:
        try:
            text = process.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        tracebacks = sum(1 for line in text if line.startswith("Traceback"))
        errors = [line for line in text if line and not line[0].isspace()
                  and line.split(":", 1)[0].rsplit(".", 1)[-1].endswith(("Error", "Exception"))]
        last = errors[-1][:300] if errors else "-"
        lines.append(f"  {process.log_path}: {tracebacks} tracebacks; last exception: {last}")
    return "server logs:\n" + "\n".join(lines)


async def warm_up_sockets(gateways: list[Gateway], token: str, session_id: str) -> None:
    """One subscription per server receives one message: the first-use costs of the WebSocket path
    (imports, caches) are paid before the idle RSS is read."""
    async with aiohttp.ClientSession() as http:
        sockets = []
        for gateway in gateways:
            ws = await http.ws_connect(gateway.ws_url, protocols=("graphql-transport-ws",))
            await ws.send_str(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            ack = await asyncio.wait_for(ws.receive(), 10)
            if json.loads(ack.data).get("type") != "connection_ack":
                raise DeliveryFailure(f"warm-up socket refused: {ack.data!r}")
            await ws.send_str(json.dumps({"id": "w", "type": "subscribe", "payload": {
                "query": SUBSCRIBE, "variables": {"id": session_id, "after": None}}}))
            sockets.append(ws)
        # No `after`: a message sent before the subscription is live would not arrive; retry until one does.
        for ws in sockets:
            for attempt in range(50):
                await gateways[0].send(session_id, f"warm-up {attempt}")
                try:
                    frame = await asyncio.wait_for(ws.receive(), 0.2)
                except TimeoutError:
                    continue
                if json.loads(frame.data).get("type") != "next":
                    raise DeliveryFailure(f"warm-up subscription answered {frame.data!r}")
                break
            else:
                raise DeliveryFailure("warm-up subscription received nothing in 50 attempts")
        for ws in sockets:
            await ws.close()


# --------------------------------------------------------------------------------------------------
# Report.


def _n(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def others_named(cpu: dict[str, float]) -> str:
    """The biggest of the others, e.g. 'postgres 60%, redis-server 8%'."""
    named = [(key.split(":", 1)[1], value) for key, value in cpu.items() if key.startswith("other:")]
    return ", ".join(f"{name} {value / cpu['wall_s'] * 100:.0f}%" for name, value in named) or "-"


def others(cpu: dict[str, float]) -> float:
    """CPU seconds of everything but the two servers and this client: PostgreSQL, Redis, the rest."""
    return max(cpu["machine_busy_s"] - cpu["server_cpu_s"] - cpu["client_cpu_s"], 0.0)


def render(headers: tuple[str, ...], lines: list[tuple[str, ...]], text_columns: int = 1) -> str:
    table = [headers, *lines]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    rendered = ["  ".join(cell.ljust(w) if i < text_columns else cell.rjust(w)
                          for i, (cell, w) in enumerate(zip(line, widths))) for line in table]
    rendered.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(rendered)


def report(outcome: Outcome, args: argparse.Namespace) -> str:
    f = outcome.figures
    out: list[str] = []
    check = f["delivery_check"]
    lat_cpu = f["latency_cpu"]
    wall = lat_cpu["wall_s"]
    deliveries = args.subscribers * f["latency_messages"]
    span = f["latency_send_span_s"]
    achieved = (f["latency_messages"] - 1) / span if span > 0 else math.nan
    out.append(f"publish-to-receive: {f['latency_messages']} messages at {args.rate:g}/s (achieved {achieved:.2f}/s; "
               f"HTTP sendMessage on "
               f"process 1) -> {args.subscribers:,} subscriptions ({args.subscribers // 2:,} per process, "
               f"{args.subs_per_socket} per socket); latency from the sendMessage response to each receipt")
    lines = []
    for name, row in f["latency"].items():
        lines.append((name, _n(row["n"]), _n(row["p50_ms"], 2), _n(row["p95_ms"], 2), _n(row["p99_ms"], 2),
                      _n(row["max_ms"], 2), _n(row["min_ms"], 2)))
    out.append(render(("latency", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "min ms"), lines))
    out.append(f"deliveries expected {check['expected']:,}, received {check['received']:,}: missing "
               f"{check['missing']}, duplicated {check['duplicated']}, unexpected {check['unexpected']}, wrong "
               f"{check['wrong']}, subscriptions out of order {check['subscriptions_out_of_order']}, other frames "
               f"{check['other_frames']}, socket events {check['socket_events']} -> "
               f"{'OK' if check['ok'] else 'FAILED'}")
    out.append(f"latency window {wall:.1f} s (incl. {f['latency_drain_s']:.2f} s waiting for the last deliveries): "
               f"servers {lat_cpu['server_cpu_s'] / wall * 100:.0f}% of a core "
               f"({lat_cpu['server_cpu_s'] * 1e6 / max(deliveries, 1):.0f} us CPU per delivery), client "
               f"{lat_cpu['client_cpu_s'] / wall * 100:.0f}%, everything else (PostgreSQL, Redis, other processes) "
               f"{others(lat_cpu) / wall * 100:.0f}% ({others_named(lat_cpu)}); the machine has {os.cpu_count()} "
               "cores (200%)")
    out.append("")
    before, after = f["rss_before_mib"], f["rss_after_mib"]
    out.append(f"idle memory: RSS {before[0]:,.1f} + {before[1]:,.1f} MiB before, {after[0]:,.1f} + {after[1]:,.1f} MiB "
               f"with {args.subscribers:,} subscriptions open -> {f['rss_per_subscription_kib']:,.1f} KiB per "
               f"subscription (socket included when 1 per socket); opening and priming took {f['subscribe_s']:.1f} s")
    out.append("")
    lines = []
    for row in outcome.throughput:
        r, cpu = row.result, row.cpu
        sent = r.requests + r.errors
        lines.append((row.label, row.target, str(row.concurrency), _n(r.requests), str(r.errors), _n(r.throughput),
                       _n(r.percentile_ms(50), 2), _n(r.percentile_ms(99), 2),
                       _n(cpu["server_cpu_s"] * 1000 / sent, 2) if sent else "-",
                       _n(cpu["client_cpu_s"] / cpu["wall_s"] * 100, 0),
                       _n(others(cpu) / cpu["wall_s"] * 100, 0),
                       _n(row.deliveries) if row.deliveries is not None else "-",
                       _n(cpu.get("drain_s"), 1),
                       _n(row.deliveries / cpu["wall_s"], 0) if row.deliveries else "-"))
    out.append("sustained sendMessage (closed loop; into own sessions: requests alternate between the two processes; "
               "into the watched session: all through process 1). With deliveries, the CPU columns and deliv/s "
               "cover the window plus the drain (until the last subscriber had the last message)")
    out.append(render(("load", "into", "conc", "messages", "err", "msg/s", "p50 ms", "p99 ms", "srv CPU ms/msg",
                       "client CPU %", "other CPU %", "deliveries", "drain s", "deliv/s"), lines, 2))
    for summary in f.get("profile", []):
        out.append("")
        out.append(summary)
    out.append("")
    out.append("other CPU by process: " + "; ".join(f"{row.label}: {others_named(row.cpu)}" for row in outcome.throughput))
    out.append(f"whole run {f['run_s']:.0f} s (server start-up {f['startup_s']:.0f} s); {os.cpu_count()} CPUs shared "
               f"by two servers, PostgreSQL, Redis and the client; CPU % is of one core; the machine was "
               f"{f['machine_busy_before_pct']:.0f}% busy (of all cores) just before the run")
    return "\n".join(out)


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
    parser.add_argument("--fanout-concurrency", type=int, default=1,
                        help="the 'subscribers receiving' row: requests in flight into the watched session (default 1)")
    parser.add_argument("--fanout-duration", type=float, default=5.0,
                        help="the 'subscribers receiving' row: seconds (default 5; 0 skips the row)")
    parser.add_argument("--fanout-drain", type=float, default=40.0,
                        help="seconds the fan-out deliveries may take to arrive after the row (default 40)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between priming and reading RSS")
    parser.add_argument("--time-limit", type=float, default=175.0,
                        help="stop (exit 2) when the whole run takes longer (default 175 s)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy both servers during the latency phase (slows them: figures are not clean)")
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="bench database (seeded if needed)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis shared by the two servers")
    parser.add_argument("--skip-seed", action="store_true", help="do not check or create the seed")
    parser.add_argument("--json", type=Path, help="where to write the results (default bench/results/)")
    parser.add_argument("--no-save", action="store_true", help="print the report only")
    args = parser.parse_args(argv)
    if args.subscribers < 2 or args.subs_per_socket < 1 or args.client_procs < 1 or args.rate <= 0 \
            or args.seconds <= 0 or args.concurrency < 1 or args.duration <= 0 or args.fanout_concurrency < 1:
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
            return await asyncio.wait_for(run(args), args.time_limit)
        except TimeoutError:
            raise DeliveryFailure(f"the run took more than --time-limit {args.time_limit:g} s") from None

    try:
        outcome = asyncio.run(bounded())
    except (WrongAnswer, DeliveryFailure) as exc:
        print(f"realtime bench failed, no figures: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
    print()
    print(report(outcome, args))
    if not args.no_save:
        path = args.json or RESULTS_DIR / f"realtime-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "context": {"when": datetime.now(UTC).isoformat(), "python": platform.python_version(),
                        "cpus": os.cpu_count(), "args": {k: str(v) for k, v in vars(args).items()}},
            "figures": outcome.figures,
            "throughput": [row.as_dict() for row in outcome.throughput],
        }, indent=2, default=str))
        print(f"results: {path}")
    for failure in outcome.failures:
        print(f"!! {failure}", file=sys.stderr)
    sys.exit(2 if outcome.failures else 0)


if __name__ == "__main__":
    main()
