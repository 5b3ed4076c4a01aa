"""`python -m bench flood`: does one client's abuse stall everyone else?

A `gateway serve` on a scratch database; users each own 90 sessions x 100 messages. Flooders send, as
fast as they are answered, (a) the most expensive read the cost budget allows (90 sessions x 100
messages, cost ~9,100 of 10,000), (b) the same read one step over the budget (refused before any SQL),
and (c) operations with ten aliased `register`/`login` mutations (refused before any hashing) and
single wrong-password logins (argon2 off the event loop, then rate-limited). Meanwhile a prober asks
`/healthz` every 20 ms. The table gives the probe's latency percentiles without and with the flood,
and what the flood got back. Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

from bench.config import plain_dsn, require_loopback, scratch_database
from bench.server import GatewayProcess
from migrations import migrate
from services.tokens import generate_key_set

PASSWORD = "BenchPassw0rd!"
SESSIONS, MESSAGES = 90, 100
REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { accessToken errors { code } } }"
WORST_ALLOWED = f"""{{ viewer {{ chatSessions(first: {SESSIONS}) {{ nodes {{ id title
  messages(first: {MESSAGES}) {{ nodes {{ id seq role content timestamp }} }} }} }} }} }}"""
OVER_BUDGET = """{ viewer { chatSessions(first: 100) { nodes { messages(first: 100) { nodes {
  session { ... on ChatSession { messages(first: 100) { nodes { id } } } } } } } } } }"""
ALIASED_REGISTER = (
    "mutation {"
    + " ".join(
        f'r{n}: register(input: {{email: "flood{n}-RANDOM@bench.example.com", password: "{PASSWORD}", '
        f'firstName: "F", lastName: "L"}}) {{ errors {{ code }} }}'
        for n in range(10)
    )
    + " }"
)
ALIASED_LOGIN = (
    "mutation {"
    + " ".join(
        f'l{n}: login(input: {{email: "nobody{n}@bench.example.com", password: "Wr0ng-password"}}) '
        f"{{ errors {{ code }} }}"
        for n in range(10)
    )
    + " }"
)
WRONG_LOGIN = """mutation { login(input: {email: "EMAIL", password: "Wr0ng-password"}) { errors { code } } }"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def seed(dsn: str, http: httpx.AsyncClient, users: int) -> list[tuple[str, str]]:
    """Register users through the API; give each 90 sessions x 100 messages straight in SQL."""
    accounts: list[tuple[str, str]] = []
    connection = await asyncpg.connect(plain_dsn(dsn))
    try:
        for n in range(users):
            email = f"flood-{n}-{uuid.uuid4().hex[:6]}@bench.example.com"
            body = (
                await http.post(
                    "/graphql",
                    json={
                        "query": REGISTER,
                        "variables": {
                            "i": {"email": email, "password": PASSWORD, "firstName": "Flood", "lastName": "User"}
                        },
                    },
                )
            ).json()
            accounts.append((email, body["data"]["register"]["accessToken"]))
            user_id = await connection.fetchval("SELECT id FROM users WHERE email = $1", email)
            session_ids = [uuid.uuid4() for _ in range(SESSIONS)]
            await connection.copy_records_to_table(
                "chat_sessions",
                columns=("id", "user_id", "title", "message_count"),
                records=[(sid, user_id, f"Session {i}", MESSAGES) for i, sid in enumerate(session_ids)],
            )
            await connection.copy_records_to_table(
                "messages",
                columns=("session_id", "role", "content", "seq"),
                records=[
                    (sid, "user", f"Message {seq} of a busy chat about invoices and quotes.", seq)
                    for sid in session_ids
                    for seq in range(1, MESSAGES + 1)
                ],
            )
    finally:
        await connection.close()
    return accounts


async def probe(http: httpx.AsyncClient, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = await http.get("/healthz")
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        await asyncio.sleep(0.02)
    return latencies


async def flood(base_url: str, accounts: list[tuple[str, str]], seconds: float, outcomes: Counter[str]) -> None:
    deadline = time.monotonic() + seconds

    async def one(kind: str, email: str, token: str) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            while time.monotonic() < deadline:
                headers = {"Authorization": f"Bearer {token}"}
                if kind == "worst":
                    query = WORST_ALLOWED
                elif kind == "over":
                    query = OVER_BUDGET
                elif kind == "aliased":
                    query = ALIASED_REGISTER.replace("RANDOM", uuid.uuid4().hex[:8])
                    if outcomes[f"{kind}:sent"] % 2:
                        query = ALIASED_LOGIN
                    headers = {}
                else:
                    query, headers = WRONG_LOGIN.replace("EMAIL", email), {}
                outcomes[f"{kind}:sent"] += 1
                body = (await http.post("/graphql", json={"query": query}, headers=headers)).json()
                codes = sorted({error.get("extensions", {}).get("code", "?") for error in body.get("errors") or []})
                payload_codes = sorted(
                    {
                        error["code"]
                        for value in (body.get("data") or {}).values()
                        if isinstance(value, dict)
                        for error in value.get("errors") or []
                    }
                )
                outcomes[f"{kind}:{'+'.join(codes + payload_codes) or 'data'}"] += 1

    kinds = ["worst", "worst", "over", "aliased", "login"]
    await asyncio.gather(*(one(kind, *accounts[n % len(accounts)]) for n, kind in enumerate(kinds)))


async def measure(base_url: str, dsn: str, users: int, seconds: float) -> tuple[list[float], list[float], Counter[str]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        accounts = await seed(dsn, http, users)
        quiet = await probe(http, min(seconds, 5))
        outcomes: Counter[str] = Counter()
        flooding = asyncio.create_task(flood(base_url, accounts, seconds, outcomes))
        await asyncio.sleep(0.5)
        loaded = await probe(http, seconds - 1)
        await flooding
    return quiet, loaded, outcomes


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench flood", description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args(argv)
    require_loopback(args.dsn)
    require_loopback(args.redis_url)
    with scratch_database(args.dsn, "gateway_bench_flood") as dsn:
        migrate.upgrade(dsn)
        keys = json.dumps(generate_key_set().as_dict(private=True))
        gateway = GatewayProcess(
            dsn,
            args.redis_url,
            Path("bench/results/flood-gateway.log"),
            extra_env={"GATEWAY_JWT_PRIVATE_KEYS": keys, "GATEWAY_RUN_WORKER": "false"},
        )
        try:
            gateway.start()
            quiet, loaded, outcomes = asyncio.run(measure(gateway.base_url, dsn, args.users, args.seconds))
        finally:
            gateway.stop()
    print(
        f"\n/healthz while flooded ({args.seconds:.0f} s; 2 worst-allowed readers, 1 over-budget reader, "
        "1 aliased-credential sender, 1 wrong-password sender)"
    )
    print(f"{'phase':<10} {'probes':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, values in (("quiet", quiet), ("flooded", loaded)):
        print(
            f"{name:<10} {len(values):>7} {statistics.median(values):>8.1f} {percentile(values, 0.95):>8.1f} "
            f"{percentile(values, 0.99):>8.1f} {max(values):>8.1f}"
        )
    print("\nWhat the flood got back (kind:answer = count)")
    for key, count in sorted(outcomes.items()):
        print(f"  {key:<40} {count}")
