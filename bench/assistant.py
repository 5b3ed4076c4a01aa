"""`python -m bench assistant`: the assistant's replies through queue, worker and sockets, against the tests'
OpenAI-compatible stand-in answering instantly (so what is measured is the gateway's own work).

- time from the `sendMessage` request to the first `MessageDelta` on a `chatSessionEvents` socket, and to
  the final `MessageAdded` (one reply at a time: the gateway's overhead per reply);
- replies in flight at once: S sessions each send at the same moment; replies per second and the
  completion latency p50/p99.
Loopback only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.config import require_loopback, scratch_database
from bench.server import GatewayProcess, free_port
from services.tokens import generate_key_set

REGISTER = """mutation($i: RegisterInput!) { register(input: $i) { accessToken errors { code } } }"""
CREATE = """mutation($i: CreateChatSessionInput!) { createChatSession(input: $i) { chatSession { id } } }"""
SEND = """mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } errors { code } } }"""
EVENTS = """subscription($id: ID!) { chatSessionEvents(sessionId: $id) {
  __typename ... on MessageDelta { replyTo index } ... on MessageAdded { message { role } } } }"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _gql(http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = (await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    if "errors" in body:
        raise SystemExit(f"GraphQL error: {body['errors']}")
    return body["data"]


class Watcher:
    """One socket, one `chatSessionEvents` subscription per session: when each session saw its first
    delta and its reply."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.first_delta: dict[str, float] = {}
        self.replied: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Event] = {}

    async def read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message.get("type") != "next":
                continue
            session, event = message["id"], message["payload"]["data"]["chatSessionEvents"]
            now = time.perf_counter()
            if event["__typename"] == "MessageDelta":
                self.first_delta.setdefault(session, now)
            elif event["__typename"] == "MessageAdded" and event["message"]["role"] != "USER":
                self.replied[session] = now
                self.waiters[session].set()

    def reset(self, session: str) -> asyncio.Event:
        self.first_delta.pop(session, None)
        self.replied.pop(session, None)
        self.waiters[session] = asyncio.Event()
        return self.waiters[session]


async def measure(base_url: str, sequential: int, sessions: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        email = f"bench-{uuid.uuid4().hex[:8]}@bench.example.com"
        fields = {"email": email, "password": "BenchPassw0rd!", "firstName": "Bench", "lastName": "User"}
        token = (await _gql(http, REGISTER, {"i": fields}))["register"]["accessToken"]
        ids = [
            (await _gql(http, CREATE, {"i": {"title": f"bench {n}"}}, token))["createChatSession"]["chatSession"]["id"]
            for n in range(sessions)
        ]
        ws_url = base_url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"], max_size=None) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            await socket.recv()
            for session in ids:
                payload = {"query": EVENTS, "variables": {"id": session}}
                await socket.send(json.dumps({"id": session, "type": "subscribe", "payload": payload}))
            await asyncio.sleep(0.5)
            watcher = Watcher(socket)
            reader = asyncio.create_task(watcher.read())

            async def one(session: str, text: str) -> tuple[float, float]:
                done = watcher.reset(session)
                sent = time.perf_counter()
                data = await _gql(http, SEND, {"i": {"sessionId": session, "content": text}}, token)
                assert data["sendMessage"]["errors"] == [], data
                await asyncio.wait_for(done.wait(), 60)
                return watcher.first_delta[session] - sent, watcher.replied[session] - sent

            await one(ids[0], "warm up")
            first: list[float] = []
            whole: list[float] = []
            for n in range(sequential):
                to_first, to_reply = await one(ids[0], f"question {n}: what is on today?")
                first.append(to_first * 1000)
                whole.append(to_reply * 1000)

            started = time.perf_counter()
            results = await asyncio.gather(*(one(session, "all at once: what is due?") for session in ids))
            burst = time.perf_counter() - started
            reader.cancel()
    latencies = [reply * 1000 for _, reply in results]
    return {
        "first_p50": statistics.median(first),
        "first_p99": percentile(first, 0.99),
        "reply_p50": statistics.median(whole),
        "reply_p99": percentile(whole, 0.99),
        "burst_sessions": sessions,
        "burst_seconds": burst,
        "burst_per_s": sessions / burst,
        "burst_p50": statistics.median(latencies),
        "burst_p99": percentile(latencies, 0.99),
    }


def _wait_for_provider(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise SystemExit("the provider stand-in did not start") from None
            time.sleep(0.2)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench assistant", description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--replies", type=int, default=50, help="one-at-a-time replies measured")
    parser.add_argument("--sessions", type=int, default=40, help="replies in flight at once (one per session)")
    parser.add_argument("--concurrency", type=int, default=8, help="GATEWAY_ASSISTANT_CONCURRENCY of the worker")
    args = parser.parse_args(argv)
    require_loopback(args.dsn)
    require_loopback(args.redis_url)
    port = free_port()
    provider = subprocess.Popen(
        [sys.executable, "-m", "tests.assistant.provider_peer", str(port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    extra = {
        "GATEWAY_JWT_PRIVATE_KEYS": json.dumps(generate_key_set().as_dict(private=True)),
        "GATEWAY_RUN_WORKER": "true",
        "GATEWAY_ASSISTANT_URL": f"http://127.0.0.1:{port}/v1",
        "GATEWAY_ASSISTANT_MODEL": "peer-model",
        "GATEWAY_ASSISTANT_ALLOW_PRIVATE": "true",
        "GATEWAY_ASSISTANT_CONCURRENCY": str(args.concurrency),
        "GATEWAY_ASSISTANT_DAILY_TOKENS": "0",
        "GATEWAY_WS_MAX_SUBSCRIPTIONS": str(max(20, args.sessions + 1)),
        "GATEWAY_LOG_FORMAT": "text",
    }
    with scratch_database(args.dsn, "gateway_bench_assistant") as dsn:
        gateway = GatewayProcess(dsn, args.redis_url, Path("bench/results/assistant-gateway.log"), extra_env=extra)
        try:
            _wait_for_provider(port)
            gateway.start()
            result = asyncio.run(measure(gateway.base_url, args.replies, args.sessions))
        finally:
            gateway.stop()
            provider.terminate()
            provider.wait(10)
    print(f"\nAssistant replies (instant provider; {args.replies} one at a time, then {args.sessions} at once)")
    print(f"  sendMessage -> first delta   p50 {result['first_p50']:.1f} ms   p99 {result['first_p99']:.1f} ms")
    print(f"  sendMessage -> stored reply  p50 {result['reply_p50']:.1f} ms   p99 {result['reply_p99']:.1f} ms")
    print(
        f"  {result['burst_sessions']} in flight: {result['burst_seconds']:.2f} s, {result['burst_per_s']:.1f} "
        f"replies/s, completion p50 {result['burst_p50']:.0f} ms p99 {result['burst_p99']:.0f} ms"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
