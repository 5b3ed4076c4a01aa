"""The fuzz proof: operations generated from the schema by hypothesis-graphql (valid queries and
mutations with generated inputs, NUL characters included, and operations with one schema violation),
sent by a signed-in user who owns one row of everything: never an HTTP 500, never a masked
"Unexpected error.", nothing logged at ERROR.

The suite runs a CI-sized batch. The long run (10,000 operations or more) is the `fuzz` marker:

    GATEWAY_FUZZ_OPERATIONS=10000 pytest -m fuzz -s tests/graph/test_fuzz.py

It prints the counts (operations, HTTP 500s, unexpected errors, wall time).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import graphql
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries
from strawberry.printer import print_schema
from strawberry.relay import to_base64

from gateway.settings import Settings
from graph.schema import build_schema
from services.resources import Resources
from tests import factories
from tests.factories import gid
from tests.graphql_client import GraphQLClient, SignedUp

CI_OPERATIONS = 200
SDL = print_schema(build_schema(Settings()))
_SCHEMA = graphql.build_schema(SDL)
# `logoutEverywhere` would end the fuzz user's own sessions (every later operation anonymous).
MUTATION_FIELDS = sorted(set(_SCHEMA.mutation_type.fields) - {"logoutEverywhere"})  # type: ignore[union-attr]
TYPE_NAMES = ["User", "ChatSession", "Message", "Integration", "Document", "MCPAgent", "Task", "Other"]


def _json_node(value: Any) -> graphql.ValueNode:
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_json_node(item) for item in value])
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=_json_node(item))
            for key, item in value.items()
        ]
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), children, max_size=4)
    ),
    max_leaves=12,
)
TIMES = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.text(max_size=30),
)


def scalars(known_ids: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    ids = st.one_of(
        st.sampled_from(known_ids),
        st.builds(lambda name, key: to_base64(name, str(key)), st.sampled_from(TYPE_NAMES), st.uuids()),
        st.text(max_size=20),
    )
    return {
        "ID": ids.map(nodes.String),
        "JSON": JSON_VALUES.map(_json_node),
        "DateTime": TIMES.map(nodes.String),
        "Upload": st.text(max_size=20).map(nodes.String),  # over JSON an upload is never a file
    }


def generate(count: int, known_ids: list[str]) -> list[str]:
    """`count` operations: queries and mutations, mostly valid, some with one schema violation."""
    custom = scalars(known_ids)
    strategy = st.one_of(
        queries(_SCHEMA, custom_scalars=custom),
        mutations(_SCHEMA, fields=MUTATION_FIELDS, custom_scalars=custom),
        mutations(_SCHEMA, fields=MUTATION_FIELDS, custom_scalars=custom),
        queries(_SCHEMA, custom_scalars=custom, mode=Mode.NEGATIVE),
        mutations(_SCHEMA, fields=MUTATION_FIELDS, custom_scalars=custom, mode=Mode.NEGATIVE),
    )
    generated: list[str] = []

    @hypothesis_settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(operation: str) -> None:
        generated.append(operation)

    collect()
    return generated


@dataclass
class Tally:
    operations: int = 0
    http_500: int = 0
    unexpected: int = 0
    logged_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def report(self) -> str:
        return (
            f"fuzz: {self.operations} operations in {self.seconds:.0f} s; HTTP 500: {self.http_500}; "
            f"unexpected errors: {self.unexpected}; logged at ERROR: {self.logged_errors}; "
            f"statuses: {dict(self.statuses)}"
        )


@pytest.fixture
async def fuzz_user(
    client: GraphQLClient, pg: asyncpg.Connection, resources: Resources
) -> AsyncIterator[tuple[SignedUp, list[str]]]:
    """A user with one row of everything, so generated operations reach real objects. The agent's only
    tool has a name no generator finds, so no generated task is ever queued. Afterwards the attempt
    counters the generated sign-ins left (e.g. thousands of logins as "") are cleared, so later tests
    are not locked out by them."""
    signed = await client.register()
    agent = await factories.agent(pg, capabilities=[{"name": f"tool-{uuid.uuid4().hex}"}])
    session = await factories.session(pg, signed.pk)
    rows = {
        "User": signed.pk,
        "MCPAgent": agent,
        "ChatSession": session,
        "Message": await factories.message(pg, session, metadata={"suggestions": ["Pay BAS"]}),
        "Integration": await factories.integration(pg, signed.pk, metadata={"email": "a@b.co"}),
        "Document": await factories.document(pg, signed.pk, tags=["tax"]),
        "Task": await factories.task(pg, signed.pk, agent, session_id=session),
    }
    yield signed, [gid(type_name, pk) for type_name, pk in rows.items()]
    async for key in resources.redis.scan_iter(match="ratelimit:*", count=1000):
        await resources.redis.delete(key)


async def fuzz(
    client: GraphQLClient, user: SignedUp, known_ids: list[str], count: int, caplog: pytest.LogCaptureFixture
) -> Tally:
    started = time.monotonic()
    tally = Tally()
    for operation in generate(count, known_ids):
        caplog.clear()
        response = await client.post(operation, token=user.token)
        tally.operations += 1
        tally.statuses[response.status_code] += 1
        failed = False
        if response.status_code >= 500:
            tally.http_500 += 1
            failed = True
        if "Unexpected error." in response.text:
            tally.unexpected += 1
            failed = True
        if any(record.levelno >= logging.ERROR for record in caplog.records):
            tally.logged_errors += 1
            failed = True
        if failed and len(tally.examples) < 5:
            tally.examples.append(f"{operation}\n-> {response.status_code} {response.text[:500]}")
    tally.seconds = time.monotonic() - started
    return tally


def assert_clean(tally: Tally) -> None:
    print(tally.report())
    assert (tally.http_500, tally.unexpected, tally.logged_errors) == (0, 0, 0), "\n\n".join(tally.examples)


async def test_generated_operations_never_fail_unexpectedly(
    client: GraphQLClient, fuzz_user: tuple[SignedUp, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    user, known_ids = fuzz_user
    tally = await fuzz(client, user, known_ids, CI_OPERATIONS, caplog)
    assert tally.operations >= CI_OPERATIONS * 0.9  # hypothesis may stop a little short
    assert_clean(tally)


@pytest.mark.fuzz
@pytest.mark.timeout(0)
@pytest.mark.skipif("GATEWAY_FUZZ_OPERATIONS" not in os.environ, reason="the long fuzz: set GATEWAY_FUZZ_OPERATIONS")
async def test_the_long_fuzz(
    client: GraphQLClient, fuzz_user: tuple[SignedUp, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    user, known_ids = fuzz_user
    count = int(os.environ["GATEWAY_FUZZ_OPERATIONS"])
    tally = await fuzz(client, user, known_ids, count, caplog)
    assert tally.operations >= count * 0.9
    assert_clean(tally)
