"""PostGraphile V5 beside the gateway: the nested read over the same `gateway_bench` data (`--postgraphile`).

PostGraphile 5 needs Node 22; `bench/postgraphile/package.json` pins it as the npm package `node@22` beside
`postgraphile@5`, installed with `npm ci` into the git-ignored `bench/postgraphile/node_modules` on first use.
The server (`server.mjs`, preset `graphile.config.mjs`: amber, read-only) listens on a free loopback port.

Authentication, honestly stated: PostGraphile runs as the bench's database role with no JWT and no row-level
security; the query names the heavy user's id (`condition: {userId: ...}`), with the baseline's soft-delete
conditions (`deletedAt: null` on sessions and messages) and orders. The gateway's row adds a bearer token
check per request that this row does not pay.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from base64 import b64decode
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench import queries
from bench.config import MESSAGES_PAGE, SESSIONS_PAGE
from bench.load import Call
from bench.process import ServedProcess
from bench.queries import WrongAnswer

FOLDER = Path(__file__).resolve().parent / "postgraphile"
NODE = FOLDER / "node_modules" / ".bin" / "node"
SAMPLE_EVERY = 64


def nested_query(user_id: uuid.UUID) -> str:
    return (
        f'{{ allChatSessions(first: {SESSIONS_PAGE}, condition: {{userId: "{user_id}", deletedAt: null}}, '
        "orderBy: [LAST_ACTIVITY_AT_DESC, ROW_ID_DESC]) { nodes { rowId title "
        f"messagesBySessionId(first: {MESSAGES_PAGE}, condition: {{deletedAt: null}}, orderBy: [SEQ_ASC]) "
        "{ nodes { rowId role content timestamp } } } } }"
    )


def install() -> None:
    """`npm ci` into bench/postgraphile/ unless its Node 22 is already there."""
    if NODE.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("--postgraphile needs npm on PATH (it installs node@22 and postgraphile@5 locally)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=FOLDER, check=True)
    if not NODE.exists():
        raise SystemExit(f"npm ci in {FOLDER} did not provide {NODE}")


class PostGraphileProcess(ServedProcess):
    """`node server.mjs` on a free loopback port over `dsn`, its output in a log file."""

    name = "PostGraphile"

    def __init__(self, dsn: str, pool_size: int, log_path: Path) -> None:
        super().__init__(log_path)
        self._env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "PORT": str(self.port),
            "PG_POOL_SIZE": str(pool_size),  # as many connections as requests in flight, like the gateway
            "NODE_ENV": "production",
            "GRAPHILE_ENV": "production",
        }

    def start(self, timeout_s: float = 60.0) -> None:
        self.launch([str(NODE), "server.mjs"], self._env, self._answers, timeout_s=timeout_s, cwd=FOLDER, poll_s=0.3)

    def _answers(self) -> bool:
        probe = httpx.post(f"{self.base_url}/graphql", json={"query": "{ __typename }"}, timeout=2.0)
        return probe.status_code == 200


def _row_id(global_id: str) -> str:
    return b64decode(global_id).decode().split(":", 1)[1]


def check_against_baseline(answer: dict[str, Any], baseline: dict[str, Any]) -> None:
    """Counts, ids (sessions and messages, in order), titles, roles and contents against the raw SQL's answer."""
    sessions = answer["allChatSessions"]["nodes"]
    wanted = baseline["viewer"]["chatSessions"]["edges"]
    if len(sessions) != SESSIONS_PAGE or len(wanted) != SESSIONS_PAGE:
        raise WrongAnswer(f"postgraphile: {len(sessions)} sessions, baseline {len(wanted)}, expected {SESSIONS_PAGE}")
    for index, (got, want) in enumerate(zip(sessions, [edge["node"] for edge in wanted], strict=True)):
        if got["rowId"] != _row_id(want["id"]) or got["title"] != want["title"]:
            raise WrongAnswer(f"postgraphile: sessions[{index}] is {got['rowId']}, baseline {_row_id(want['id'])}")
        messages = got["messagesBySessionId"]["nodes"]
        expected = [edge["node"] for edge in want["messages"]["edges"]]
        if len(messages) != MESSAGES_PAGE or len(expected) != MESSAGES_PAGE:
            raise WrongAnswer(f"postgraphile: sessions[{index}] has {len(messages)} messages, expected 20")
        for position, (message, base) in enumerate(zip(messages, expected, strict=True)):
            same = (
                message["rowId"] == _row_id(base["id"])
                and message["role"].upper() == base["role"]
                and message["content"] == base["content"]
            )
            if not same:
                raise WrongAnswer(f"postgraphile: sessions[{index}].messages[{position}] differs from the baseline")


async def statements(http: aiohttp.ClientSession, base_url: str) -> float:
    """Statements PostGraphile's connections have sent so far (counted in server.mjs around the `pg` client)."""
    async with http.get(f"{base_url}/__bench/statements") as response:
        return float(await response.text())


class PostGraphileNested:
    """The verified nested read against a running PostGraphile, as a load `Call`."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, user_id: uuid.UUID) -> None:
        self.http = http
        self.url = f"{base_url}/graphql"
        self.payload = queries.body(nested_query(user_id))
        self.size: int | None = None
        self.data: dict[str, Any] = {}

    async def post(self) -> bytes:
        headers = {"content-type": "application/json"}
        async with self.http.post(self.url, data=self.payload, headers=headers) as response:
            raw = await response.read()
            if response.status != 200:
                raise WrongAnswer(f"postgraphile: HTTP {response.status}: {raw[:300]!r}")
        if b'"errors"' in raw:
            raise WrongAnswer(f"postgraphile: GraphQL errors: {raw[:500]!r}")
        return raw

    async def verify(self, baseline_raw: str) -> None:
        first, second = await self.post(), await self.post()
        self.data = queries.data_of(first)
        check_against_baseline(self.data, queries.data_of(baseline_raw))
        self.size = len(first) if len(first) == len(second) else None

    def call(self) -> Call:
        async def one(number: int) -> None:
            raw = await self.post()
            if self.size is not None and len(raw) != self.size:
                raise WrongAnswer(f"postgraphile: answer of {len(raw)} bytes, the verified one has {self.size}")
            if number % SAMPLE_EVERY == 0 and queries.data_of(raw) != self.data:
                raise WrongAnswer("postgraphile: answer differs from the verified one")

        return one
