"""`python -m bench tasks`: tasks per second through queue and worker with a trivial MCP tool, and the
latency from the `runTask` answer to the task's `running` event (p50/p99).

It starts a real MCP server (the tests' peer, `add` tool), a `gateway serve` with the worker in-process,
makes an operator, registers the agent, then runs tasks at a fixed concurrency while a `taskUpdated`
subscription records when each task starts running. Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import websockets

from bench.config import require_loopback, scratch_database
from bench.server import STATEMENTS, GatewayProcess, free_port, gateway_executable
from services.tokens import generate_key_set

REGISTER = """mutation($i: RegisterInput!) { register(input: $i) { accessToken errors { code } } }"""
AGENT = """mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agent { id } errors { code message } } }"""
RUN = """mutation($i: RunTaskInput!) { runTask(input: $i) { task { id } errors { code message } } }"""
WATCH = "subscription { taskUpdated { id status } }"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _gql(http: httpx.AsyncClient, query: str, variables: dict[str, object], token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = (await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    if "errors" in body:
        raise SystemExit(f"GraphQL error: {body['errors']}")
    return body["data"]  # type: ignore[no-any-return]


async def _sql_statements(http: httpx.AsyncClient) -> float:
    """The gateway's SQL statements so far (its /metrics counter; open outside production)."""
    found = STATEMENTS.findall((await http.get("/metrics")).text)
    if not found:
        raise SystemExit("/metrics has no gateway_sql_statements_total line")
    return sum(float(value) for value in found)


def _cpu_seconds(pids: tuple[int, ...]) -> float:
    """User + system CPU of the processes and their children so far."""
    total = 0.0
    for pid in pids:
        process = psutil.Process(pid)
        total += sum(process.cpu_times()[:2])
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += sum(child.cpu_times()[:2])
    return total


async def measure(
    base_url: str,
    env: dict[str, str],
    peer_url: str,
    tasks: int,
    concurrency: int,
    rate: float,
    pids: tuple[tuple[int, ...], tuple[int, ...]],
) -> dict[str, float]:
    """`pids`: the gateway's processes (serve, and a worker of its own if any), then the peer's."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        email = f"bench-op-{uuid.uuid4().hex[:8]}@bench.example.com"
        token = (
            await _gql(
                http,
                REGISTER,
                {"i": {"email": email, "password": "BenchPassw0rd!", "firstName": "Bench", "lastName": "Operator"}},
            )
        )["register"]["accessToken"]
        subprocess.run([gateway_executable(), "grant-operator", email], env=env, check=True, capture_output=True)
        agent = (
            await _gql(
                http,
                AGENT,
                {
                    "i": {
                        "name": f"bench-{uuid.uuid4().hex[:8]}",
                        "endpoint": peer_url,
                        "configuration": {"timeout": 5000, "retries": 0},
                    }
                },
                token,
            )
        )["registerAgent"]["agent"]["id"]
        answered: dict[str, float] = {}
        running: dict[str, float] = {}
        finished: dict[str, float] = {}
        ws_url = base_url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"], max_size=None) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            await socket.recv()
            await socket.send(json.dumps({"id": "w", "type": "subscribe", "payload": {"query": WATCH}}))
            await asyncio.sleep(0.3)

            async def watch() -> None:
                async for raw in socket:
                    message = json.loads(raw)
                    if message.get("type") != "next":
                        continue
                    update = message["payload"]["data"]["taskUpdated"]
                    now = time.perf_counter()
                    if update["status"] == "RUNNING":
                        running.setdefault(update["id"], now)
                    elif update["status"] in ("COMPLETED", "FAILED"):
                        finished.setdefault(update["id"], now)
                        if len(finished) >= tasks:
                            return

            watcher = asyncio.create_task(watch())
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(tasks):
                queue.put_nowait(n)

            async def submit() -> None:
                while not queue.empty():
                    n = queue.get_nowait()
                    if rate:  # the n-th task is submitted at its time, not before
                        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
                    data = await _gql(
                        http, RUN, {"i": {"agentId": agent, "taskType": "add", "input": {"a": n, "b": 1}}}, token
                    )
                    answered[data["runTask"]["task"]["id"]] = time.perf_counter()

            statements_before = await _sql_statements(http)
            cpu_before = [_cpu_seconds(group) for group in pids]
            bench_cpu_before = time.process_time()
            started = time.perf_counter()
            await asyncio.gather(*(submit() for _ in range(concurrency)))
            try:
                await asyncio.wait_for(watcher, timeout=120)
            except TimeoutError:
                raise SystemExit(f"only {len(finished)}/{tasks} tasks finished within 120 s") from None
            elapsed = max(finished.values()) - started
            bench_cpu = time.process_time() - bench_cpu_before
            gateway_cpu, peer_cpu = (
                _cpu_seconds(group) - before for group, before in zip(pids, cpu_before, strict=True)
            )
            statements = await _sql_statements(http) - statements_before

            # Unsaturated: one task at a time, so the wait is the pick-up, not a backlog.
            idle_waits: list[float] = []
            for n in range(20):
                arguments = {"agentId": agent, "taskType": "add", "input": {"a": n, "b": 2}}
                data = await _gql(http, RUN, {"i": arguments}, token)
                task_id, answered_at = data["runTask"]["task"]["id"], time.perf_counter()
                async with asyncio.timeout(30):
                    while True:
                        message = json.loads(await socket.recv())
                        if message.get("type") != "next":
                            continue
                        update = message["payload"]["data"]["taskUpdated"]
                        if update["id"] == task_id and update["status"] == "RUNNING":
                            idle_waits.append((time.perf_counter() - answered_at) * 1000)
                        if update["id"] == task_id and update["status"] in ("COMPLETED", "FAILED"):
                            break
    waits = [(running[t] - answered[t]) * 1000 for t in answered if t in running]
    return {
        "tasks": tasks,
        "seconds": elapsed,
        "tasks_per_s": tasks / elapsed,
        "start_p50_ms": statistics.median(waits),
        "start_p99_ms": percentile(waits, 0.99),
        "start_max_ms": max(waits),
        "idle_p50_ms": statistics.median(idle_waits),
        "idle_p99_ms": percentile(idle_waits, 0.99),
        "gateway_cpu_ms_per_task": gateway_cpu * 1000 / tasks,
        "peer_cpu_ms_per_task": peer_cpu * 1000 / tasks,
        "bench_cpu_ms_per_task": bench_cpu * 1000 / tasks,
        "sql_per_task": statements / tasks,
    }


def _wait_for_peer(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise SystemExit("the MCP peer did not start") from None
            time.sleep(0.2)


def _start_worker(stack: contextlib.ExitStack, env: dict[str, str]) -> int:
    """A `gateway worker` on the server's database and Redis, stopped when `stack` closes; its pid."""
    log = os.open("bench/results/tasks-worker.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    stack.callback(os.close, log)
    worker = subprocess.Popen([gateway_executable(), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop() -> None:
        worker.terminate()
        worker.wait(20)

    stack.callback(stop)
    return worker.pid


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench tasks", description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="submit at most this many tasks per second (0: as fast as the submitters go). At a fixed rate "
        "two trees do the same work in the same time, so their CPU per task compares without the batching "
        "a faster server gets",
    )
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="run the worker as a `gateway worker` process of its own (as at scale) instead of inside `serve`",
    )
    parser.add_argument(
        "--tasks-per-user",
        type=int,
        default=64,
        help="GATEWAY_TASKS_PER_USER of the server (all tasks are one user's; the default 2 would measure the cap)",
    )
    args = parser.parse_args(argv)
    require_loopback(args.dsn)
    require_loopback(args.redis_url)
    load = os.getloadavg()[0]
    peer_port = free_port()
    peer = subprocess.Popen(
        [sys.executable, "-m", "tests.agents.mcp_peer", str(peer_port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    keys = json.dumps(generate_key_set().as_dict(private=True))
    extra = {
        "GATEWAY_JWT_PRIVATE_KEYS": keys,
        "GATEWAY_RUN_WORKER": "false" if args.worker_process else "true",
        "GATEWAY_TASKS_PER_USER": str(args.tasks_per_user),
    }
    with scratch_database(args.dsn, "gateway_bench_tasks") as dsn, contextlib.ExitStack() as stack:
        gateway = GatewayProcess(dsn, args.redis_url, Path("bench/results/tasks-gateway.log"), extra_env=extra)
        try:
            _wait_for_peer(peer_port)
            gateway.start()
            stack.callback(gateway.stop)
            env = {**gateway._env}
            gateway_pids: tuple[int, ...] = (gateway.pid,)
            if args.worker_process:
                gateway_pids += (_start_worker(stack, env),)
            result = asyncio.run(
                measure(
                    gateway.base_url,
                    env,
                    f"http://127.0.0.1:{peer_port}/mcp",
                    args.tasks,
                    args.concurrency,
                    args.rate,
                    (gateway_pids, (peer.pid,)),
                )
            )
        finally:
            stack.close()
            peer.terminate()
            peer.wait(10)
    print(
        f"\nTasks through queue and worker (tool `add`, {args.tasks} tasks, {args.concurrency} submitters, "
        f"{f'at most {args.rate:g}/s, ' if args.rate else ''}GATEWAY_TASKS_PER_USER={args.tasks_per_user}, worker "
        f"{'in a process of its own; SQL/task counts the serve process only' if args.worker_process else 'in serve'})"
    )
    print(
        f"{'tasks/s':>10} {'saturated start p50/p99 ms':>28} {'one-at-a-time start p50/p99 ms':>32} "
        f"{'gateway CPU ms/task':>20} {'peer CPU ms/task':>17} {'SQL/task':>9}"
    )
    print(
        f"{result['tasks_per_s']:>10.1f} {result['start_p50_ms']:>13.0f} / {result['start_p99_ms']:<12.0f} "
        f"{result['idle_p50_ms']:>15.1f} / {result['idle_p99_ms']:<14.1f} "
        f"{result['gateway_cpu_ms_per_task']:>20.1f} {result['peer_cpu_ms_per_task']:>17.1f} "
        f"{result['sql_per_task']:>9.1f}"
    )
    print(
        f"the bench's own CPU (submitters and the watching socket, this process): "
        f"{result['bench_cpu_ms_per_task']:.1f} ms/task"
    )
    print(f"load average before the run: {load:.2f} (2-core machine shared with other work: figures are noisy)")


if __name__ == "__main__":
    main(sys.argv[1:])
