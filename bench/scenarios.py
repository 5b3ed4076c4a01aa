"""The two measured reads, each as a pair of calls (gateway over HTTP, baseline over asyncpg) that
answer the same question, verified against each other before they are timed."""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from strawberry.relay import to_base64

from bench import baseline, queries
from bench.baseline import BenchUser
from bench.load import Call
from bench.queries import WrongAnswer

SAMPLE_EVERY = 64  # fully parse and compare one timed answer in this many (cheap checks on the rest)


@dataclass
class Expected:
    """A verified answer: its size (answers are deterministic) and its parsed data."""

    size: int | None
    data: dict[str, Any]


def _checker(expected: Expected, label: str) -> Any:
    def check(number: int, raw: bytes | str) -> None:
        if expected.size is not None and len(raw) != expected.size:
            raise WrongAnswer(f"{label}: answer of {len(raw)} bytes, the verified one has {expected.size}")
        if number % SAMPLE_EVERY == 0 and queries.data_of(raw) != expected.data:
            raise WrongAnswer(f"{label}: answer differs from the verified one")

    return check


@dataclass
class Scenario(abc.ABC):
    """`prepare` verifies and primes the expectations; then `gateway` and `baseline` are the timed calls."""

    name: str
    http: aiohttp.ClientSession
    graphql_url: str
    headers: dict[str, str]
    pool: asyncpg.Pool
    user: BenchUser
    _gateway: list[Expected] = field(default_factory=list)
    _baseline: list[Expected] = field(default_factory=list)

    async def post(self, payload: bytes) -> bytes:
        async with self.http.post(self.graphql_url, data=payload, headers=self.headers) as response:
            raw = await response.read()
            if response.status != 200:
                raise WrongAnswer(f"HTTP {response.status}: {raw[:300]!r}")
        # An `"errors"` key can only be a key: inside strings JSON escapes the quotes.
        if b'"errors"' in raw:
            raise WrongAnswer(f"GraphQL errors: {raw[:500]!r}")
        return raw

    async def _expect_gateway(self, payload: bytes) -> tuple[bytes, Expected]:
        first = await self.post(payload)
        second = await self.post(payload)
        # If the answer carries something variable (timings in `extensions`), drop the size check.
        size = len(first) if len(first) == len(second) else None
        return first, Expected(size, queries.data_of(first))

    @abc.abstractmethod
    async def prepare(self) -> None:
        """Build the request and check the gateway's answer against the baseline's."""

    @abc.abstractmethod
    def gateway(self) -> Call:
        """One request to the gateway."""

    @abc.abstractmethod
    def baseline(self) -> Call:
        """The same data from raw asyncpg."""


class NestedScenario(Scenario):
    """The issue's read: 100 sessions by last activity, each with its first 20 messages."""

    async def prepare(self) -> None:
        self._payload = queries.body(queries.NESTED)
        raw, expected = await self._expect_gateway(self._payload)
        sql = await baseline.nested(self.pool, self.user.id)
        queries.check_nested(queries.data_of(raw), queries.data_of(sql))
        self._gateway = [expected]
        self._baseline = [Expected(len(sql), queries.data_of(sql))]

    def gateway(self) -> Call:
        check = _checker(self._gateway[0], "gateway")

        async def call(number: int) -> None:
            check(number, await self.post(self._payload))

        return call

    def baseline(self) -> Call:
        check = _checker(self._baseline[0], "baseline")

        async def call(number: int) -> None:
            check(number, await baseline.nested(self.pool, self.user.id))

        return call


class NodeScenario(Scenario):
    """`node(id:)` on a session, cycling through the heavy user's first 100 sessions."""

    async def prepare(self) -> None:
        self._ids: list[uuid.UUID] = list(self.user.session_ids)
        self._payloads = [queries.body(queries.NODE, {"id": to_base64("ChatSession", str(pk))}) for pk in self._ids]
        for pk, payload in zip(self._ids, self._payloads, strict=True):
            raw, expected = await self._expect_gateway(payload)
            sql = await baseline.node(self.pool, pk, self.user.id)
            if sql is None:
                raise WrongAnswer(f"baseline found no session {pk}")
            queries.check_node(queries.data_of(raw), queries.data_of(sql))
            self._gateway.append(expected)
            self._baseline.append(Expected(len(sql), queries.data_of(sql)))

    def gateway(self) -> Call:
        checks = [_checker(expected, "gateway") for expected in self._gateway]

        async def call(number: int) -> None:
            index = number % len(self._payloads)
            checks[index](number // len(self._payloads), await self.post(self._payloads[index]))

        return call

    def baseline(self) -> Call:
        checks = [_checker(expected, "baseline") for expected in self._baseline]

        async def call(number: int) -> None:
            index = number % len(self._ids)
            raw = await baseline.node(self.pool, self._ids[index], self.user.id)
            checks[index](number // len(self._ids), raw)

        return call


SCENARIOS: dict[str, type[Scenario]] = {"nested": NestedScenario, "node": NodeScenario}
