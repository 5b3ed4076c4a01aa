"""Documents that are small in tokens but large in work are refused before graphql-core validates them
(graph/document_limits.py), each reproduced from the live attack review of the hardening issue."""

from __future__ import annotations

import asyncio

import pytest
from graphql import get_introspection_query, parse

from gateway.settings import Settings
from graph.document_limits import MAX_NAME_LENGTH, DocumentLimits, problems
from tests.graphql_client import GraphQLClient, SignedUp

LIMITS = DocumentLimits(max_depth=12, max_aliases=30, max_fields=1000, max_fields_per_set=100)


def fanned_fragments(levels: int) -> str:
    """Each fragment spreads the next one twice: 2^levels selections from ~10 tokens a level."""
    parts = ["query Fan { ...F0 }"]
    parts += [f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels)]
    parts.append(f"fragment F{levels} on Query {{ __typename }}")
    return "\n".join(parts)


def errors_of(body: dict) -> list[str]:
    assert body.get("data") is None, body
    return [error["message"] for error in body["errors"]]


@pytest.mark.unit
def test_fragments_are_measured_once_however_often_they_are_spread() -> None:
    found = problems(parse(fanned_fragments(40)), LIMITS)  # 2^40 selections; measured in milliseconds
    assert any("1099511627776 fields" in message for message in found), found


@pytest.mark.unit
def test_ordinary_documents_pass() -> None:
    tour = """{ viewer { firstName businessName chatSessions(first: 10) { totalCount
      pageInfo { hasNextPage endCursor } edges { node { id title lastActivityAt
      messages(first: 20) { edges { node { role content timestamp } } } } } } }
      agents { edges { node { name healthStatus capabilities { name description } } } } }"""
    assert problems(parse(tour), LIMITS) == []
    assert problems(parse(get_introspection_query()), LIMITS) == []  # what GraphiQL sends


async def test_a_fragment_fan_out_is_refused_at_once(client: GraphQLClient) -> None:
    """22 levels took strawberry's depth limiter ~40 s (10 s at 20) while the loop served no one."""
    response = await asyncio.wait_for(client.post(fanned_fragments(22)), 5)
    assert response.status_code == 200
    assert any("fields once its fragments are expanded" in m for m in errors_of(response.json()))


async def test_one_field_repeated_many_times_is_refused(client: GraphQLClient, user: SignedUp) -> None:
    """450 copies of `viewer { id }` made graphql-core's overlapping-fields rule spend 0.7 s."""
    body = (await client.post("{ " + "viewer { id } " * 450 + "}", token=user.token)).json()
    assert any("selects one field 450 times" in m for m in errors_of(body))
    assert (await client.data("{ " + "viewer { id } " * 10 + "}", token=user.token))["viewer"]["id"] == user.id


async def test_long_aliases_are_refused(client: GraphQLClient, user: SignedUp) -> None:
    """An alias is repeated in the answer once per object: 33 KB aliases over 300 objects answered 284 MB."""
    long_alias = "a" * (MAX_NAME_LENGTH + 1)
    body = (await client.post(f"{{ {long_alias}: viewer {{ id }} }}", token=user.token)).json()
    assert any(f"at most {MAX_NAME_LENGTH} characters" in m for m in errors_of(body))
    ok = "a" * MAX_NAME_LENGTH
    assert (await client.data(f"{{ {ok}: viewer {{ id }} }}", token=user.token))[ok]["id"] == user.id


async def test_an_oversized_document_is_refused_before_it_is_parsed(client: GraphQLClient, settings: Settings) -> None:
    """A 1 MB comment cost 0.3 s of lexing, and each such document stayed in the parser cache."""
    padded = "{ __typename } #" + "x" * settings.max_query_bytes
    body = (await client.post(padded)).json()
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": settings.max_query_bytes}
    assert (await client.data("{ __typename } #" + "x" * 100))["__typename"] == "Query"


async def test_a_client_leaving_mid_body_is_not_an_error(app, caplog: pytest.LogCaptureFixture) -> None:
    """2,000 aborted uploads logged 88,000 lines of tracebacks; a client that left needs no answer."""
    import logging

    sent: list[dict] = []
    messages = iter(
        [{"type": "http.request", "body": b'{"query": "{ __typ', "more_body": True}, {"type": "http.disconnect"}]
    )

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    with caplog.at_level(logging.ERROR):
        await app(scope, receive, send)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
