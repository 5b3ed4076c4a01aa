"""Every string input of every mutation, read from the schema (a new input joins the day it is added):
a NUL character, or one character over the input's limit, is a payload error at that input's dotted
path (INVALID / TOO_LONG), nothing is written and nothing is logged at ERROR. JSON inputs likewise
refuse a NUL inside and a value over 64 KiB."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)

from graph.input_limits import DEFAULT_MAX_LENGTH, MAX_LENGTH
from resolvers.validation import JSON_MAX_BYTES
from tests.conftest import _dsn
from tests.graph.test_mutation_matrix import MUTATIONS, OPERATOR_ONLY, PUBLIC, sample, snapshot, unknown_ids
from tests.graphql_client import GraphQLClient, SignedUp


@dataclass(frozen=True)
class Leaf:
    mutation: str
    path: tuple[str, ...]  # under the mutation's arguments, e.g. ("input", "contextData", ...)
    scalar: str
    max_length: int

    @property
    def field(self) -> str:
        return ".".join(self.path)


def leaves_of(
    type_: GraphQLInputType, path: tuple[str, ...], max_length: int | None
) -> Iterator[tuple[tuple[str, ...], str, int]]:
    if isinstance(type_, GraphQLNonNull):
        yield from leaves_of(type_.of_type, path, max_length)
    elif isinstance(type_, GraphQLList):
        yield from leaves_of(type_.of_type, (*path, "0"), max_length)  # one item is enough
    elif isinstance(type_, GraphQLInputObjectType):
        for name, field in type_.fields.items():
            limit = field.extensions["strawberry-definition"].metadata.get(MAX_LENGTH)
            yield from leaves_of(field.type, (*path, name), limit)
    elif isinstance(type_, GraphQLScalarType) and type_.name in ("String", "ID", "JSON"):
        yield path, type_.name, max_length or DEFAULT_MAX_LENGTH


LEAVES = [
    Leaf(mutation, path, scalar, limit)
    for mutation, field in sorted(MUTATIONS.items())
    for name, argument in field.args.items()
    for path, scalar, limit in leaves_of(argument.type, (name,), None)
]
TEXT_LEAVES = [leaf for leaf in LEAVES if leaf.scalar != "JSON"]
JSON_LEAVES = [leaf for leaf in LEAVES if leaf.scalar == "JSON"]


def put(type_: GraphQLInputType, current: Any, path: tuple[str, ...], value: Any, ids: dict[str, str]) -> Any:
    """`current` with `value` at `path`, the objects on the way completed with their required fields."""
    if isinstance(type_, GraphQLNonNull):
        return put(type_.of_type, current, path, value, ids)
    if not path:
        return value
    head, *rest = path
    if isinstance(type_, GraphQLList):
        return [put(type_.of_type, None, tuple(rest), value, ids)]
    assert isinstance(type_, GraphQLInputObjectType)
    built = dict(current) if isinstance(current, dict) else sample(type_, head, ids)
    built[head] = put(type_.fields[head].type, built.get(head), tuple(rest), value, ids)
    return built


def operation(leaf: Leaf, value: Any) -> tuple[str, dict[str, Any]]:
    field = MUTATIONS[leaf.mutation]
    ids = unknown_ids()
    variables = {
        name: sample(argument.type, name, ids)
        for name, argument in field.args.items()
        if isinstance(argument.type, GraphQLNonNull)
    }
    name, *rest = leaf.path
    argument_type = field.args[name].type
    if isinstance(argument_type, GraphQLNonNull):
        variables[name] = put(argument_type, variables[name], tuple(rest), value, ids)
    else:
        variables[name] = put(argument_type, None, tuple(rest), value, ids) if rest else value
    declared = ", ".join(f"${arg}: {field.args[arg].type}" for arg in variables)
    passed = ", ".join(f"{arg}: ${arg}" for arg in variables)
    query = f"mutation({declared}) {{ {leaf.mutation}({passed}) {{ errors {{ field code message }} }} }}"
    return query, variables


@dataclass
class People:
    regular: SignedUp
    operator: SignedUp

    def token_for(self, mutation: str) -> str | None:
        if mutation in PUBLIC:
            return None
        return self.operator.token if mutation in OPERATOR_ONLY else self.regular.token


@pytest.fixture(scope="module")
async def people(app, database_url: str) -> AsyncIterator[People]:
    async with GraphQLClient.over_asgi(app) as client:
        regular, operator = await client.register(), await client.register()
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        await connection.execute("UPDATE users SET role = 'operator' WHERE id = $1", operator.pk)
    finally:
        await connection.close()
    yield People(regular, operator)


async def everything(pg: asyncpg.Connection, people: People) -> str:
    counts = await pg.fetchrow("""SELECT (SELECT count(*) FROM users) AS users,
        (SELECT count(*) FROM mcp_agents) AS agents, (SELECT count(*) FROM tasks) AS tasks,
        (SELECT count(*) FROM chat_sessions) AS sessions, (SELECT count(*) FROM messages) AS messages""")
    return json.dumps([dict(counts), await snapshot(pg, people.regular.pk), await snapshot(pg, people.operator.pk)])


async def refused_at(
    client: GraphQLClient,
    pg: asyncpg.Connection,
    people: People,
    caplog: pytest.LogCaptureFixture,
    leaf: Leaf,
    value: Any,
) -> dict[str, Any]:
    """Send `value` at the leaf's path: one payload error there, nothing written, nothing logged."""
    before = await everything(pg, people)
    query, variables = operation(leaf, value)
    response = await client.post(query, variables, token=people.token_for(leaf.mutation))
    assert response.status_code == 200, response.text
    assert "Unexpected error." not in response.text
    body = response.json()
    assert "errors" not in body, body
    errors = body["data"][leaf.mutation]["errors"]
    assert [error["field"] for error in errors] == [leaf.field], errors
    assert await everything(pg, people) == before
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    return errors[0]


def test_the_matrix_reaches_every_kind_of_input() -> None:
    fields = {leaf.field for leaf in LEAVES}
    assert {
        "input.email",
        "input.firstName",
        "input.refreshToken",
        "input.content",
        "input.endpoint",
        "input.contextData.businessContext.clientInfo",
        "input.contextData.aiContext.memory.0",
        "input.configuration.authentication.apiKey",
        "input.input",
        "input.dependencies.0",
    } <= fields
    assert len({leaf.mutation for leaf in LEAVES}) == len([name for name, field in MUTATIONS.items() if field.args])


@pytest.mark.parametrize("leaf", TEXT_LEAVES, ids=[f"{leaf.mutation}:{leaf.field}" for leaf in TEXT_LEAVES])
async def test_a_nul_in_any_string_input_is_a_payload_error(
    client: GraphQLClient, pg: asyncpg.Connection, people: People, caplog: pytest.LogCaptureFixture, leaf: Leaf
) -> None:
    error = await refused_at(client, pg, people, caplog, leaf, "before\x00after")
    assert error["code"] == "INVALID"
    assert "NUL" in error["message"]


@pytest.mark.parametrize("leaf", TEXT_LEAVES, ids=[f"{leaf.mutation}:{leaf.field}" for leaf in TEXT_LEAVES])
async def test_a_string_input_over_its_limit_is_a_payload_error(
    client: GraphQLClient, pg: asyncpg.Connection, people: People, caplog: pytest.LogCaptureFixture, leaf: Leaf
) -> None:
    error = await refused_at(client, pg, people, caplog, leaf, "x" * (leaf.max_length + 1))
    assert error["code"] == "TOO_LONG"
    assert str(leaf.max_length) in error["message"]


@pytest.mark.parametrize("leaf", JSON_LEAVES, ids=[f"{leaf.mutation}:{leaf.field}" for leaf in JSON_LEAVES])
@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({"note": "before\x00after"}, "INVALID"),
        ({"note": "x" * JSON_MAX_BYTES}, "TOO_LONG"),
    ],
    ids=["nul", "over-64KiB"],
)
async def test_a_json_input_is_checked_wherever_it_is(
    client: GraphQLClient,
    pg: asyncpg.Connection,
    people: People,
    caplog: pytest.LogCaptureFixture,
    leaf: Leaf,
    value: Any,
    code: str,
) -> None:
    error = await refused_at(client, pg, people, caplog, leaf, value)
    assert error["code"] == code


@pytest.mark.parametrize("leaf", TEXT_LEAVES, ids=[f"{leaf.mutation}:{leaf.field}" for leaf in TEXT_LEAVES])
async def test_a_string_input_at_its_limit_passes_the_door(client: GraphQLClient, people: People, leaf: Leaf) -> None:
    """At the limit, the input is not refused for its length (the use case may still refuse it)."""
    query, variables = operation(leaf, "x" * leaf.max_length)
    token = people.token_for(leaf.mutation)
    if leaf.mutation == "logoutEverywhere":  # it would succeed, and end the shared user's sessions
        token = (await client.register()).token
    body = await client.execute(query, variables, token=token)
    assert "Unexpected error." not in json.dumps(body)
    errors = body["data"][leaf.mutation]["errors"] if body.get("data") else []
    assert (leaf.field, "TOO_LONG") not in [(error["field"], error["code"]) for error in errors]
