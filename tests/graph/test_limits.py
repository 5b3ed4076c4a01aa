"""Size limits at the door: the request body (1 MiB, 413 before it is read whole), JSON bodies nested
too deeply (400, a JSON GraphQL error), JSON inputs (64 KiB, depth 32: payload errors), string
inputs of query fields, cursors out of range, and SQL parameters kept out of error text."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import traceback
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette

from gateway.settings import Settings
from graph.app import create_app
from graph.input_limits import MAX_LIST_ITEMS
from resolvers.validation import JSON_MAX_BYTES, JSON_MAX_DEPTH, check_email
from services.resources import Resources
from tests import factories
from tests.factories import gid
from tests.graphql_client import GraphQLClient, SignedUp

LIMIT = 1024 * 1024
CHUNK = 64 * 1024
VIEWER = "{ viewer { id } }"


def assert_no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not bad, [record.getMessage() for record in bad]
    assert "RecursionError" not in caplog.text


# --- the request body ---------------------------------------------------------------------------


async def call_asgi(
    app: Starlette, chunks: Iterator[bytes], *, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, Any], int]:
    """POST /graphql straight through ASGI with a body that streams lazily from `chunks`: the status,
    the JSON answer and how many body bytes the app pulled."""
    pulled = 0
    finished = False

    async def receive() -> dict[str, Any]:
        nonlocal pulled, finished
        if finished:
            return {"type": "http.disconnect"}
        chunk = next(chunks, None)
        if chunk is None:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
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
        "client": ("10.9.9.9", 4000),
        "server": ("gateway.test", 80),
        "headers": [(b"host", b"gateway.test"), (b"content-type", b"application/json"), *headers],
    }
    await app(scope, receive, send)
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return status, json.loads(body), pulled


def fifty_megabytes() -> Iterator[bytes]:
    yield b'{"query": "{ viewer { id } }", "padding": "'
    for _ in range(50 * 1024 * 1024 // CHUNK):
        yield b"x" * CHUNK
    yield b'"}'


def assert_too_large(status: int, body: dict[str, Any]) -> None:
    assert status == 413
    error = body["errors"][0]
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "limit": LIMIT}


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(app: Starlette) -> None:
    status, body, pulled = await call_asgi(app, fifty_megabytes(), headers=[])
    assert_too_large(status, body)
    assert pulled <= LIMIT + CHUNK  # stopped reading at the limit, not at 50 MB


async def test_a_declared_length_over_the_limit_is_refused_unread(app: Starlette) -> None:
    declared = [(b"content-length", str(50 * 1024 * 1024).encode())]
    status, body, pulled = await call_asgi(app, fifty_megabytes(), headers=declared)
    assert_too_large(status, body)
    assert pulled == 0


async def test_a_body_at_the_limit_is_answered(client: GraphQLClient, user: SignedUp) -> None:
    envelope = json.dumps({"query": VIEWER, "padding": ""})
    padded = envelope[:-2] + "x" * (LIMIT - len(envelope)) + '"}'
    assert len(padded.encode()) == LIMIT
    headers = {"content-type": "application/json", "authorization": f"Bearer {user.token}"}
    answer = await client.http.post("/graphql", content=padded.encode(), headers=headers)
    assert answer.json() == {"data": {"viewer": {"id": user.id}}}
    over = await client.http.post("/graphql", content=padded.encode() + b" ", headers=headers)
    assert over.status_code == 413


async def test_the_limit_is_a_setting(resources: Resources, tmp_path) -> None:
    settings = Settings(
        GATEWAY_DATA_DIR=str(tmp_path),
        GATEWAY_JWT_PRIVATE_KEYS=resources.settings.jwt_private_keys,
        GATEWAY_MAX_BODY_BYTES="2048",
    )
    small = create_app(dataclasses.replace(resources, settings=settings))
    status, body, _ = await call_asgi(small, iter([b" " * 2049]), headers=[])
    assert status == 413
    assert body["errors"][0]["extensions"]["limit"] == 2048


# --- JSON bodies nested too deeply --------------------------------------------------------------

DEEP = 100_000


def deep_list(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        deep_list(DEEP),
        '{"query": "{ viewer { id } }", "variables": {"a": ' + deep_list(DEEP) + "}}",
        '{"query": "query($a: JSON) { viewer { id } }", "variables": {"a": ' + '{"a":' * DEEP + "1" + "}" * DEEP + "}}",
        '{"query": "{ viewer { id } }", "variables": {"a": ' + "1" * 5000 + "}}",  # too long to convert
    ],
    ids=["body", "variables", "objects", "huge-number"],
)
async def test_a_body_the_parser_cannot_read_is_a_400(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    answer = await client.http.post("/graphql", content=body.encode(), headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "JSON" in error["message"]
    assert_no_error_logged(caplog)


async def test_deep_variables_in_a_get_query_are_a_400(client: GraphQLClient, caplog: pytest.LogCaptureFixture) -> None:
    # As deep as a URL carries (httpx stops at 64 KiB), still far past the recursion limit.
    answer = await client.http.get("/graphql", params={"query": VIEWER, "variables": deep_list(5000)})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert_no_error_logged(caplog)


def nested_lists(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "variables",
    [
        {"input": {"title": "deep", "contextData": nested_lists(900)}},
        {"input": {"title": "deep", "contextData": {"aiContext": {"memory": nested_lists(900)}}}},
        {"input": nested_lists(900)},
    ],
    ids=["input-object", "list-of-json", "whole-input"],
)
async def test_variables_nested_deeply_are_refused_readably(
    client: GraphQLClient, user: SignedUp, caplog: pytest.LogCaptureFixture, variables: dict[str, Any]
) -> None:
    """Parseable, but far deeper than any input: a coded refusal, not a RecursionError."""
    query = """mutation($input: CreateChatSessionInput!) {
      createChatSession(input: $input) { chatSession { id } errors { field code } } }"""
    answer = await client.post(query, variables, token=user.token)
    assert answer.status_code == 200
    body = answer.json()
    refused = body.get("errors") or body["data"]["createChatSession"]["errors"]
    assert refused
    assert "Unexpected error." not in answer.text
    assert_no_error_logged(caplog)


async def test_bytes_that_are_not_utf8_are_a_400(client: GraphQLClient) -> None:
    answer = await client.http.post(
        "/graphql", content=b'{"query": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_deep_literal_in_the_document_is_refused(
    client: GraphQLClient, user: SignedUp, caplog: pytest.LogCaptureFixture
) -> None:
    """The document's own nesting: graphql-core's parser recurses; the token limit stops it first."""
    query = "{ node(id: " + deep_list(900) + ") { id } }"
    answer = await client.post(query, token=user.token)
    assert answer.status_code == 200
    assert answer.json()["errors"]
    assert "Unexpected error." not in answer.text
    assert_no_error_logged(caplog)


# --- JSON inputs ------------------------------------------------------------------------------

CREATE_SESSION = """mutation($input: CreateChatSessionInput!) {
  createChatSession(input: $input) { chatSession { id } errors { field code message } } }"""
RUN_TASK = """mutation($input: RunTaskInput!) {
  runTask(input: $input) { task { id } errors { field code message } } }"""
CLIENT_INFO = "input.contextData.businessContext.clientInfo"


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


def with_client_info(value: Any) -> dict[str, Any]:
    return {"input": {"title": "JSON", "contextData": {"businessContext": {"clientInfo": value}}}}


async def sessions_of(pg, user: SignedUp) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM chat_sessions WHERE user_id = $1", user.pk))


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (nested(JSON_MAX_DEPTH + 1), "INVALID"),
        (nested(900), "INVALID"),  # deeper than Python's recursion: still a payload error
        ({"notes": "x" * JSON_MAX_BYTES}, "TOO_LONG"),
        ({"name": "nul\x00inside"}, "INVALID"),
        ({"key\x00": 1}, "INVALID"),
        ([1, 2, {"deep": ["a\x00"]}], "INVALID"),
    ],
    ids=["depth-33", "depth-900", "64KiB", "nul-in-string", "nul-in-key", "nul-nested"],
)
async def test_a_json_input_over_its_limits_is_a_payload_error(
    client: GraphQLClient, user: SignedUp, pg, caplog: pytest.LogCaptureFixture, value: Any, code: str
) -> None:
    before = await sessions_of(pg, user)
    payload = (await client.data(CREATE_SESSION, with_client_info(value), token=user.token))["createChatSession"]
    assert payload["chatSession"] is None
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [(CLIENT_INFO, code)]
    assert await sessions_of(pg, user) == before
    assert_no_error_logged(caplog)


async def test_a_json_input_at_its_limits_is_stored(client: GraphQLClient, user: SignedUp) -> None:
    envelope = len(json.dumps({"notes": ""}, separators=(",", ":")))
    for value in (nested(JSON_MAX_DEPTH), {"notes": "x" * (JSON_MAX_BYTES - envelope)}):
        payload = (await client.data(CREATE_SESSION, with_client_info(value), token=user.token))["createChatSession"]
        assert payload["errors"] == []
        assert payload["chatSession"]["id"]


async def test_json_inputs_in_lists_and_in_run_task_are_checked(client: GraphQLClient, user: SignedUp, pg) -> None:
    memory = {"input": {"contextData": {"aiContext": {"memory": [{"ok": 1}, nested(40)]}}}}
    payload = (await client.data(CREATE_SESSION, memory, token=user.token))["createChatSession"]
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [
        ("input.contextData.aiContext.memory.1", "INVALID")
    ]

    agent = await factories.agent(pg)
    task = {"input": {"agentId": gid("MCPAgent", agent), "taskType": "search", "input": nested(50)}}
    payload = (await client.data(RUN_TASK, task, token=user.token))["runTask"]
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [("input.input", "INVALID")]
    assert await pg.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user.pk) == 0


async def test_json_numbers_must_be_finite(client: GraphQLClient, user: SignedUp) -> None:
    body = (
        '{"query": ' + json.dumps(CREATE_SESSION) + ', "variables": {"input": {"contextData": '
        '{"businessContext": {"clientInfo": {"n": NaN, "m": Infinity}}}}}}'
    )
    answer = await client.http.post(
        "/graphql",
        content=body.encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {user.token}"},
    )
    payload = answer.json()["data"]["createChatSession"]
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [(CLIENT_INFO, "INVALID")]


async def test_lists_hold_at_most_100_items(client: GraphQLClient, user: SignedUp) -> None:
    connections = {
        "input": {"contextData": {"integrationContext": {"activeConnections": ["gmail"] * (MAX_LIST_ITEMS + 1)}}}
    }
    payload = (await client.data(CREATE_SESSION, connections, token=user.token))["createChatSession"]
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [
        ("input.contextData.integrationContext.activeConnections", "TOO_LONG")
    ]


# --- string arguments of queries --------------------------------------------------------------

QUERY_ARGUMENTS = [
    ("query($s: String!) { agents(filter: {capability: $s}) { totalCount } }", "filter.capability"),
    ("query($s: String!) { viewer { documents(filter: {tags: [$s]}) { totalCount } } }", "filter.tags.0"),
    ("query($s: String!) { viewer { documents(filter: {category: [$s]}) { totalCount } } }", "filter.category.0"),
    ("query($s: String!) { viewer { tasks(filter: {taskType: [$s]}) { totalCount } } }", "filter.taskType.0"),
    ("query($s: ID!) { viewer { tasks(filter: {agentId: [$s]}) { totalCount } } }", "filter.agentId.0"),
    ("query($s: String!) { viewer { chatSessions(after: $s) { totalCount } } }", "after"),
    ("query($s: String!) { viewer { chatSessions(before: $s) { totalCount } } }", "before"),
    ("query($s: ID!) { node(id: $s) { id } }", "id"),
    ("query($s: ID!) { nodes(ids: [$s]) { id } }", "ids.0"),
]


@pytest.mark.parametrize(("query", "path"), QUERY_ARGUMENTS, ids=[path for _, path in QUERY_ARGUMENTS])
@pytest.mark.parametrize(("value", "reason"), [("a\x00b", "NUL"), ("x" * 256, "at most")], ids=["nul", "long"])
async def test_string_arguments_of_queries_are_checked(
    client: GraphQLClient,
    user: SignedUp,
    caplog: pytest.LogCaptureFixture,
    query: str,
    path: str,
    value: str,
    reason: str,
) -> None:
    answer = await client.execute(query, {"s": value}, token=user.token)
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"`{path}`" in error["message"] and reason in error["message"]
    assert_no_error_logged(caplog)


# --- cursors ----------------------------------------------------------------------------------


def cursor(order: str, values: list[Any]) -> str:
    raw = json.dumps([order, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


SESSIONS_AFTER = "query($c: String!) { viewer { chatSessions(after: $c) { totalCount } } }"
MESSAGES_AFTER = (
    "query($id: ID!, $c: String!) { node(id: $id) { ... on ChatSession { messages(after: $c) { totalCount } } } }"
)


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+14:00",  # year 0 once in UTC
        "9999-12-31T23:59:59-14:00",  # year 10000 once in UTC
        "0000-01-01T00:00:00+00:00",
        "10000-01-01T00:00:00+00:00",
        10**30,  # an epoch far away
    ],
)
async def test_cursors_with_out_of_range_times_are_bad_input(
    client: GraphQLClient, user: SignedUp, caplog: pytest.LogCaptureFixture, when: Any
) -> None:
    answer = await client.execute(SESSIONS_AFTER, {"c": cursor("sla-", [when, str(uuid.uuid4())])}, token=user.token)
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert_no_error_logged(caplog)


@pytest.mark.parametrize("seq", [2**31, -(2**31) - 1, 2**63, 2**64 + 1, 10**40])
async def test_cursors_with_integers_beyond_the_column_are_bad_input(
    client: GraphQLClient, user: SignedUp, pg, caplog: pytest.LogCaptureFixture, seq: int
) -> None:
    session = gid("ChatSession", await factories.session(pg, user.pk))
    answer = await client.execute(
        MESSAGES_AFTER, {"id": session, "c": cursor("msq+", [seq, str(uuid.uuid4())])}, token=user.token
    )
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert_no_error_logged(caplog)
    # In range, the same cursor works.
    fine = await client.data(
        MESSAGES_AFTER, {"id": session, "c": cursor("msq+", [2**31 - 1, str(uuid.uuid4())])}, token=user.token
    )
    assert fine["node"]["messages"]["totalCount"] == 0


# --- emails -----------------------------------------------------------------------------------


def email_of_length(length: int) -> str:
    domain = "b" * 63 + "." + "c" * 63 + "." + "d" * (length - 64 - 1 - 63 - 1 - 63 - 1 - 4) + ".com"
    return "a" * 64 + "@" + domain


def test_an_email_has_at_most_254_characters() -> None:
    assert len(email_of_length(254)) == 254
    assert check_email("email", email_of_length(254)) is None
    assert check_email("email", email_of_length(255)) is not None


async def test_register_takes_an_email_of_254_characters_not_255(client: GraphQLClient) -> None:
    longest = await client.register(email=email_of_length(254))
    assert longest.email == email_of_length(254)
    answer = await client.data(
        """mutation($input: RegisterInput!) { register(input: $input) {
        user { id } errors { field code } } }""",
        {"input": {"email": email_of_length(255), "password": "Correct-Horse-9", "firstName": "A", "lastName": "B"}},
    )
    assert answer["register"] == {"user": None, "errors": [{"field": "input.email", "code": "TOO_LONG"}]}


# --- SQL parameters stay out of error text ----------------------------------------------------


@pytest.mark.parametrize("cast", ["integer", "uuid", "text"])
async def test_a_failed_statement_names_no_parameter(
    resources: Resources, caplog: pytest.LogCaptureFixture, cast: str
) -> None:
    """What a log line with the exception (and its whole chain) would print holds no bound value: not
    SQLAlchemy's parameter list, not the value asyncpg could not encode."""
    secret = "argon2id$not-for-the-logs\x00"
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    with pytest.raises(DBAPIError) as failure:
        async with resources.engine.connect() as connection:
            await connection.execute(text(f"SELECT CAST(:value AS {cast})"), {"value": secret})
    printed = "".join(traceback.format_exception(failure.value))
    assert "argument $1" in printed or "0x00" in printed  # the failure itself is still described
    assert "not-for-the-logs" not in printed
    assert "not-for-the-logs" not in caplog.text
