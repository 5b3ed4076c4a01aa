"""The authorization matrix over every mutation in the schema (read from the schema itself, so a new
mutation joins the matrix the day it is added): an anonymous caller may only register, login, refresh,
logout, verify an email and request or complete a reset; a deleted account's still-valid token can do
nothing; the shared agent registry is changed by operators only (FORBIDDEN for everyone else); user B
acting on user A's objects is answered exactly as for objects that do not exist."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    is_required_argument,
    is_required_input_field,
)

from gateway.settings import Settings
from graph.permissions import IsOperator
from graph.schema import build_schema
from tests import factories
from tests.factories import gid
from tests.graphql_client import GraphQLClient, SignedUp

PUBLIC = {"register", "login", "refreshToken", "logout", "verifyEmail", "requestPasswordReset", "resetPassword"}
SCHEMA = build_schema(Settings())._schema
MUTATIONS = SCHEMA.mutation_type.fields  # type: ignore[union-attr]
SIGNED_IN_ONLY = sorted(set(MUTATIONS) - PUBLIC)
OPERATOR_ONLY = sorted(
    name
    for name, field in MUTATIONS.items()
    if IsOperator in field.extensions["strawberry-definition"].permission_classes
)

# What an `...Id` input names, by its field name.
ID_TYPES = {
    "sessionId": "ChatSession",
    "messageId": "Message",
    "documentId": "Document",
    "integrationId": "Integration",
    "taskId": "Task",
    "agentId": "MCPAgent",
    "userId": "User",
}
SCALARS: dict[str, Any] = {
    "String": "Sample-Text-1",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "DateTime": "2026-01-01T00:00:00Z",
    "JSON": {},
    # Over JSON an upload is no file (only the multipart request spec carries one): the use case says so.
    "Upload": "not-a-file",
}


def sample(type_: GraphQLInputType, name: str, ids: dict[str, str]) -> Any:
    """A value of `type_` that passes validation: required fields only, IDs from `ids` by type."""
    if isinstance(type_, GraphQLNonNull):
        return sample(type_.of_type, name, ids)
    if isinstance(type_, GraphQLList):
        return [sample(type_.of_type, name, ids)]
    if isinstance(type_, GraphQLInputObjectType):
        return {
            field_name: sample(field.type, field_name, ids)
            for field_name, field in type_.fields.items()
            if is_required_input_field(field)
        }
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    assert isinstance(type_, GraphQLScalarType)
    if type_.name == "ID":
        assert name in ID_TYPES, f"which type does the input `{name}` name? add it to ID_TYPES"
        return ids[ID_TYPES[name]]
    assert type_.name in SCALARS, f"no sample value for the scalar {type_.name}"
    return SCALARS[type_.name]


def operation(mutation: str, ids: dict[str, str]) -> tuple[str, dict[str, Any]]:
    field = MUTATIONS[mutation]
    required = {name: arg for name, arg in field.args.items() if is_required_argument(arg)}
    declared = ", ".join(f"${name}: {arg.type}" for name, arg in required.items())
    passed = ", ".join(f"{name}: ${name}" for name in required)
    query = (
        f"mutation{f'({declared})' if declared else ''} {{ "
        f"{mutation}{f'({passed})' if passed else ''} {{ errors {{ field code message }} }} }}"
    )
    return query, {name: sample(arg.type, name, ids) for name, arg in required.items()}


def unknown_ids() -> dict[str, str]:
    return {type_name: gid(type_name, uuid.uuid4()) for type_name in set(ID_TYPES.values())}


def refused(body: dict[str, Any], mutation: str, code: str) -> bool:
    errors = body.get("errors") or []
    return (
        body.get("data") is None
        and len(errors) == 1
        and errors[0]["path"] == [mutation]
        and errors[0]["extensions"]["code"] == code
    )


def refused_unauthenticated(body: dict[str, Any], mutation: str) -> bool:
    return refused(body, mutation, "UNAUTHENTICATED")


def test_the_matrix_knows_every_public_mutation() -> None:
    assert set(MUTATIONS) >= PUBLIC
    assert SIGNED_IN_ONLY  # the rest


@pytest.mark.parametrize("mutation", SIGNED_IN_ONLY)
async def test_anonymous_callers_are_unauthenticated(client: GraphQLClient, mutation: str) -> None:
    query, variables = operation(mutation, unknown_ids())
    body = await client.execute(query, variables)
    assert refused_unauthenticated(body, mutation), body


@pytest.mark.parametrize("mutation", sorted(PUBLIC))
async def test_anonymous_callers_may_use_the_public_mutations(client: GraphQLClient, mutation: str) -> None:
    query, variables = operation(mutation, unknown_ids())
    body = await client.execute(query, variables)
    assert "errors" not in body, body  # answered in the payload, whatever the sample input deserves
    assert isinstance(body["data"][mutation]["errors"], list)


@pytest.mark.parametrize("mutation", SIGNED_IN_ONLY)
async def test_a_deleted_account_can_do_nothing(client: GraphQLClient, pg: asyncpg.Connection, mutation: str) -> None:
    user = await client.register()
    session = await factories.session(pg, user.pk)
    message = await factories.message(pg, session)
    ids = {
        **unknown_ids(),
        "User": user.id,
        "ChatSession": gid("ChatSession", session),
        "Message": gid("Message", message),
    }
    await pg.execute("UPDATE users SET deleted_at = now() WHERE id = $1", user.pk)
    before = await snapshot(pg, user.pk)

    query, variables = operation(mutation, ids)
    body = await client.execute(query, variables, token=user.token)  # the token has not expired
    assert refused_unauthenticated(body, mutation), body
    assert await snapshot(pg, user.pk) == before


async def snapshot(pg: asyncpg.Connection, user_id: uuid.UUID) -> str:
    """Everything of one user's, as stored."""
    return json.dumps(
        await pg.fetchval(
            """SELECT jsonb_build_object(
             'user', (SELECT to_jsonb(u) FROM users u WHERE id = $1),
             'sessions', (SELECT jsonb_agg(to_jsonb(s) ORDER BY s.id) FROM chat_sessions s WHERE user_id = $1),
             'messages', (SELECT jsonb_agg(to_jsonb(m) ORDER BY m.id) FROM messages m
                          JOIN chat_sessions s ON s.id = m.session_id WHERE s.user_id = $1))::text""",
            user_id,
        )
    )


def test_the_agent_registry_is_for_operators_only() -> None:
    # The contract: agents are shared, readable by every signed-in user, writable by operators only.
    assert sorted(name for name in MUTATIONS if "Agent" in name) == OPERATOR_ONLY
    assert {"registerAgent", "updateAgent", "deleteAgent"} <= set(OPERATOR_ONLY)


@pytest.mark.parametrize("mutation", OPERATOR_ONLY)
async def test_regular_users_are_forbidden_operator_mutations(
    client: GraphQLClient, pg: asyncpg.Connection, mutation: str
) -> None:
    agent = await factories.agent(pg)
    ids = {**unknown_ids(), "MCPAgent": gid("MCPAgent", agent)}
    before = await pg.fetchval("SELECT to_jsonb(a)::text FROM mcp_agents a WHERE id = $1", agent)
    regular = await client.register()
    query, variables = operation(mutation, ids)

    assert refused(await client.execute(query, variables, token=regular.token), mutation, "FORBIDDEN")
    assert refused_unauthenticated(await client.execute(query, variables), mutation)
    assert await pg.fetchval("SELECT to_jsonb(a)::text FROM mcp_agents a WHERE id = $1", agent) == before
    # An operator gets past the permission (whatever the sample input then deserves).
    operator = await client.register()
    await pg.execute("UPDATE users SET role = 'operator' WHERE id = $1", operator.pk)
    allowed = await client.execute(query, variables, token=operator.token)
    assert not any(
        error.get("extensions", {}).get("code") in {"FORBIDDEN", "UNAUTHENTICATED"}
        for error in allowed.get("errors", [])
    ), allowed


MUTATIONS_ON_OBJECTS = sorted(
    name
    for name in set(SIGNED_IN_ONLY) - set(OPERATOR_ONLY)  # agents are shared, not owned
    if any(
        isinstance(field.type, GraphQLNonNull) and field_name in ID_TYPES
        for arg in MUTATIONS[name].args.values()
        if isinstance(getattr(arg.type, "of_type", None), GraphQLInputObjectType)
        for field_name, field in arg.type.of_type.fields.items()
    )
)


@pytest.mark.parametrize("mutation", MUTATIONS_ON_OBJECTS)
async def test_another_users_objects_answer_as_missing_ones(
    client: GraphQLClient, pg: asyncpg.Connection, mutation: str
) -> None:
    alice = await client.register()
    session = await factories.session(pg, alice.pk, title="Alice's")
    message = await factories.message(pg, session, content="Alice's words")
    alices = {**unknown_ids(), "ChatSession": gid("ChatSession", session), "Message": gid("Message", message)}
    bob: SignedUp = await client.register()
    before = await snapshot(pg, alice.pk)

    query, variables = operation(mutation, alices)
    foreign = await client.execute(query, variables, token=bob.token)
    missing_query, missing_variables = operation(mutation, unknown_ids())
    missing = await client.execute(missing_query, missing_variables, token=bob.token)

    assert "errors" not in foreign, foreign
    assert [error["code"] for error in foreign["data"][mutation]["errors"]] == ["NOT_FOUND"], foreign
    assert foreign == missing  # existence never leaks
    assert await snapshot(pg, alice.pk) == before
    # The same document with Alice's token runs (the refusal was about Bob, not the input's shape).
    own = await client.execute(query, variables, token=alice.token)
    assert "errors" not in own and isinstance(own["data"][mutation]["errors"], list), own
