"""Hostile and broken requests: malformed IDs, bad tokens, invalid enums, oversized documents, production
hardening, failures we did not plan for, and random valid queries. Every answer is HTTP 200 with a
readable, coded error, never a trace."""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet, OKPKey
from starlette.applications import Starlette
from strawberry.printer import print_schema
from strawberry.relay import to_base64

from gateway.db import create_engine, session_factory
from gateway.settings import Settings
from graph.app import create_app
from graph.schema import build_schema
from services.resources import Resources
from services.tokens import AUDIENCE, TokenKeys, generate_key_set, load_key_set
from tests import factories
from tests.factories import gid
from tests.graphql_client import GraphQLClient, SignedUp

VIEWER = "{ viewer { id } }"
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
TRACE_MARKERS = ("Traceback", 'File "')


def assert_no_trace(text: str) -> None:
    for marker in TRACE_MARKERS:
        assert marker not in text


def first_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("errors"), body
    return body["errors"][0]


@pytest.fixture
def build_app(resources: Resources, tmp_path) -> Callable[..., Starlette]:
    """An app over the run's database and Redis with other settings (same signing keys)."""

    def build(**env: Any) -> Starlette:
        settings = Settings(
            GATEWAY_DATA_DIR=str(tmp_path), GATEWAY_JWT_PRIVATE_KEYS=resources.settings.jwt_private_keys, **env
        )
        return create_app(dataclasses.replace(resources, settings=settings))

    return build


@asynccontextmanager
async def connect(app: Starlette) -> AsyncIterator[GraphQLClient]:
    async with GraphQLClient.over_asgi(app) as connected:
        yield connected


# --- malformed global IDs -----------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "bad_id",
    [
        "!!! not base64 !!!",
        "@@@",
        _b64(b"no separator here"),
        _b64(b"\xff\xfe\xfa\x00\x81"),
        _b64(f":{uuid.uuid4()}".encode()),
        "",
    ],
    ids=["punctuation", "at-signs", "junk-without-colon", "not-utf8", "empty-type", "empty"],
)
async def test_malformed_global_id_is_a_coded_client_error(client: GraphQLClient, user: SignedUp, bad_id: str) -> None:
    response = await client.post(NODE, {"id": bad_id}, token=user.token)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"node": None}
    error = first_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "`id` is not a valid ID."
    assert error["path"] == ["node"]
    assert_no_trace(response.text)


async def test_malformed_id_among_nodes_is_a_coded_client_error(client: GraphQLClient, user: SignedUp) -> None:
    body = await client.execute(NODES, {"ids": [user.id, "%%%"]}, token=user.token)
    assert body["data"] is None  # `nodes` is a non-null list
    error = first_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "`ids`" in error["message"]


@pytest.mark.parametrize(
    "global_id",
    [
        to_base64("Spaceship", str(uuid.uuid4())),
        to_base64("user", str(uuid.uuid4())),
        to_base64("Node", str(uuid.uuid4())),
    ],
    ids=["unknown-type", "wrong-case-type", "interface-name"],
)
async def test_unknown_type_name_answers_null(client: GraphQLClient, user: SignedUp, global_id: str) -> None:
    assert await client.execute(NODE, {"id": global_id}, token=user.token) == {"data": {"node": None}}


@pytest.mark.parametrize("key", ["42", "not-a-uuid", "", "' OR 1=1 --", "00000000-0000-0000-0000"])
async def test_valid_type_with_non_uuid_key_answers_null(client: GraphQLClient, user: SignedUp, key: str) -> None:
    for type_name in ("User", "ChatSession", "MCPAgent"):
        global_id = to_base64(type_name, key)
        assert await client.execute(NODE, {"id": global_id}, token=user.token) == {"data": {"node": None}}


async def test_nodes_answers_null_in_place_of_unknown_ids(client: GraphQLClient, user: SignedUp) -> None:
    ids = [to_base64("Spaceship", str(uuid.uuid4())), user.id, to_base64("User", "7"), gid("User", uuid.uuid4())]
    nodes = (await client.data(NODES, {"ids": ids}, token=user.token))["nodes"]
    assert nodes == [None, {"__typename": "User", "id": user.id}, None, None]


async def test_nodes_takes_at_most_100_ids(client: GraphQLClient, user: SignedUp) -> None:
    hundred = [user.id] * 100
    nodes = (await client.data(NODES, {"ids": hundred}, token=user.token))["nodes"]
    assert nodes == [{"__typename": "User", "id": user.id}] * 100

    response = await client.post(NODES, {"ids": [*hundred, user.id]}, token=user.token)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    error = first_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "100" in error["message"]


# --- bad Authorization --------------------------------------------------------------------------


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _unb64url(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _claims(user: SignedUp, keys: TokenKeys, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": keys.issuer, "aud": AUDIENCE, "sub": str(user.pk), "iat": now, "exp": now + 600}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed_by_our_key(resources: Resources, claims: dict[str, Any], alg: str = "Ed25519") -> str:
    """A token signed with the gateway's own private key but with claims of our choosing."""
    key_set: KeySet = load_key_set(resources.settings.jwt_private_keys)
    key = key_set.keys[0]
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])


def bad_authorizations(user: SignedUp, resources: Resources) -> dict[str, str]:
    keys = resources.keys
    header, payload, signature = _segments(user.token)
    other = TokenKeys(generate_key_set(), issuer=keys.issuer, ttl_seconds=keys.ttl_seconds)
    same_kid = TokenKeys(
        KeySet([OKPKey.generate_key("Ed25519", parameters={"kid": keys.signing_kid})]),
        issuer=keys.issuer,
        ttl_seconds=keys.ttl_seconds,
    )
    someone_else = _unb64url(payload) | {"sub": str(uuid.uuid4())}
    flipped = "A" if signature[5] != "A" else "B"
    unsigned_header = {"alg": "none", "kid": keys.signing_kid, "typ": "JWT"}
    return {
        "not-a-jwt": "Bearer not-a-jwt",
        "three-junk-segments": "Bearer aaa.bbb.ccc",
        "truncated": f"Bearer {user.token[:-10]}",
        "wrong-scheme": f"Token {user.token}",
        "basic-scheme": "Basic dXNlcjpwYXNzd29yZA==",
        "no-scheme": user.token,
        "scheme-only": "Bearer",
        "other-key": f"Bearer {other.issue(user.pk)}",
        "other-key-same-kid": f"Bearer {same_kid.issue(user.pk)}",
        "expired": f"Bearer {keys.issue(user.pk, now=int(time.time()) - keys.ttl_seconds - 3600)}",
        "tampered-payload": f"Bearer {header}.{_b64url(someone_else)}.{signature}",
        "tampered-signature": f"Bearer {header}.{payload}.{signature[:5]}{flipped}{signature[6:]}",
        "alg-none": f"Bearer {_b64url(unsigned_header)}.{payload}.",
        "wrong-issuer": f"Bearer {_signed_by_our_key(resources, _claims(user, keys, iss='https://evil'))}",
        "wrong-audience": f"Bearer {_signed_by_our_key(resources, _claims(user, keys, aud='other-api'))}",
        "no-expiry": f"Bearer {_signed_by_our_key(resources, _claims(user, keys, exp=None))}",
        "no-subject": f"Bearer {_signed_by_our_key(resources, _claims(user, keys, sub=None))}",
        "subject-not-uuid": f"Bearer {_signed_by_our_key(resources, _claims(user, keys, sub='1 OR 1=1'))}",
    }


BAD_AUTH_CASES = [
    "not-a-jwt",
    "three-junk-segments",
    "truncated",
    "wrong-scheme",
    "basic-scheme",
    "no-scheme",
    "scheme-only",
    "other-key",
    "other-key-same-kid",
    "expired",
    "tampered-payload",
    "tampered-signature",
    "alg-none",
    "wrong-issuer",
    "wrong-audience",
    "no-expiry",
    "no-subject",
    "subject-not-uuid",
]


@pytest.mark.parametrize("case", BAD_AUTH_CASES)
async def test_bad_authorization_refuses_the_operation(
    client: GraphQLClient, user: SignedUp, resources: Resources, case: str
) -> None:
    authorization = bad_authorizations(user, resources)[case]
    for query in (VIEWER, NODE):
        response = await client.http.post(
            "/graphql",
            json={"query": query, "variables": {"id": user.id}},
            headers={"Authorization": authorization},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]
        assert_no_trace(response.text)


async def test_bad_authorization_refuses_mutations_too(
    client: GraphQLClient, user: SignedUp, resources: Resources, pg
) -> None:
    email = f"refused-{uuid.uuid4().hex[:10]}@example.com"
    mutation = """mutation($input: RegisterInput!) { register(input: $input) { user { id } } }"""
    response = await client.http.post(
        "/graphql",
        json={
            "query": mutation,
            "variables": {
                "input": {"email": email, "password": "Correct-Horse-9", "firstName": "Eve", "lastName": "Mallory"}
            },
        },
        headers={"Authorization": bad_authorizations(user, resources)["expired"]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert first_error(body)["extensions"]["code"] == "UNAUTHENTICATED"
    assert await pg.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0


async def test_the_bad_token_cases_are_valid_for_their_real_counterparts(
    client: GraphQLClient, user: SignedUp, resources: Resources
) -> None:
    """Controls: the forging helpers make tokens the gateway accepts when nothing is wrong."""
    keys = resources.keys
    for token in (user.token, keys.issue(user.pk), _signed_by_our_key(resources, _claims(user, keys))):
        assert (await client.data(VIEWER, token=token))["viewer"] == {"id": user.id}


async def test_no_token_means_anonymous(client: GraphQLClient) -> None:
    response = await client.post(VIEWER)
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": None}}
    empty_header = await client.http.post("/graphql", json={"query": VIEWER}, headers={"Authorization": ""})
    assert empty_header.json() == {"data": {"viewer": None}}


# --- invalid enum values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "enum_name"),
    [
        ("{ viewer { chatSessions(orderBy: SIDEWAYS) { totalCount } } }", "ChatSessionOrder"),
        ("{ viewer { chatSessions(filter: {status: [EXPLODED]}) { totalCount } } }", "ChatSessionStatus"),
        ("{ viewer { documents(filter: {processingStatus: [lost]}) { totalCount } } }", "DocumentProcessingStatus"),
        ("{ viewer { integrations(filter: {provider: [MYSPACE]}) { totalCount } } }", "IntegrationProvider"),
        ("{ viewer { tasks(orderBy: RANDOM) { totalCount } } }", "TaskOrder"),
        ("{ agents(filter: {status: [ACTIVE, DEAD]}) { totalCount } }", "AgentStatus"),
        ('{ agents(orderBy: "NAME_ASC") { totalCount } }', "AgentOrder"),
    ],
)
async def test_unknown_enum_value_is_a_validation_error(
    client: GraphQLClient, user: SignedUp, sql_counter, query: str, enum_name: str
) -> None:
    sql_counter.reset()
    response = await client.post(query, token=user.token)
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    assert enum_name in first_error(body)["message"]
    assert_no_trace(response.text)
    assert sql_counter.count == 0  # refused before anything ran


async def test_unknown_enum_value_in_variables_is_a_validation_error(client: GraphQLClient, user: SignedUp) -> None:
    query = "query($order: DocumentOrder!) { viewer { documents(orderBy: $order) { totalCount } } }"
    response = await client.post(query, {"order": "BIGGEST_FIRST"}, token=user.token)
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    assert "$order" in first_error(body)["message"]
    valid = await client.data(query, {"order": "FILENAME_ASC"}, token=user.token)
    assert valid["viewer"]["documents"]["totalCount"] == 0


# --- document limits ----------------------------------------------------------------------------


def nested(depth: int) -> str:
    """A query whose selections nest `depth` fields deep (viewer > chatSessions > nodes > messages...).
    Pages of one keep its cost low: this is about depth (default pages, 50 at each level, would build
    millions of objects and be refused for its cost)."""
    names = (["viewer", "chatSessions(first: 1)", "nodes"] + ["messages(first: 1)", "nodes", "session"] * depth)[:depth]
    return "{ " + " { ".join(names) + " { __typename" + " }" * depth + " }"


PARENT_TYPE = {"messages": "ChatSession", "nodes": "MessageConnection", "session": "Message"}


def nested_with_fragments(depth: int) -> str:
    """The same depth as `nested(depth)`, hidden in a chain of fragments (one field each)."""
    names = (["messages", "nodes", "session"] * depth)[: depth - 3]
    fragments, body = [], "__typename"
    for index in reversed(range(len(names))):
        name = names[index]
        fragments.append(f"fragment F{index} on {PARENT_TYPE[name]} {{ {name} {{ {body} }} }}")
        body = f"...F{index}"
    return "{ viewer { chatSessions { nodes { " + body + " } } } }\n" + "\n".join(fragments)


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{index}: viewer {{ id }}" for index in range(count)) + " }"


def token_heavy(tokens: int) -> str:
    """Exactly `tokens` lexical tokens: `{ nodes(ids: [...]) { id } }` (12 punctuators and names plus
    one token per ID). IDs rather than repeated fields: repeating one field is a limit of its own."""
    from graph.node import global_id

    ids = " ".join(f'"{global_id("ChatSession", uuid.UUID(int=index))}"' for index in range(tokens - 12))
    return "{ nodes(ids: [" + ids + "]) { id } }"


def assert_refused(response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    assert fragment in first_error(body)["message"]
    assert_no_trace(response.text)


async def test_limits_from_settings_refuse_oversized_documents(build_app, user: SignedUp, sql_counter) -> None:
    app = build_app(GATEWAY_MAX_QUERY_DEPTH=5, GATEWAY_MAX_ALIASES=3, GATEWAY_MAX_TOKENS=60)
    async with connect(app) as small:
        # At the limit: answered.
        assert "errors" not in await small.execute(nested(5), token=user.token)
        assert "errors" not in await small.execute(nested_with_fragments(5), token=user.token)
        assert "errors" not in await small.execute(aliased(3), token=user.token)
        assert "errors" not in await small.execute(token_heavy(60), token=user.token)

        sql_counter.reset()
        assert_refused(await small.post(nested(6), token=user.token), "exceeds maximum operation depth")
        assert_refused(await small.post(nested_with_fragments(6), token=user.token), "exceeds maximum operation depth")
        assert_refused(await small.post(aliased(4), token=user.token), "aliases")
        assert_refused(await small.post(token_heavy(61), token=user.token), "tokens")
        assert sql_counter.count == 0  # nothing ran


async def test_default_limits_refuse_oversized_documents(
    client: GraphQLClient, user: SignedUp, settings: Settings
) -> None:
    assert "errors" not in await client.execute(nested(settings.max_query_depth), token=user.token)
    assert_refused(
        await client.post(nested(settings.max_query_depth + 1), token=user.token), "exceeds maximum operation depth"
    )
    assert "errors" not in await client.execute(aliased(settings.max_aliases), token=user.token)
    assert_refused(await client.post(aliased(settings.max_aliases + 1), token=user.token), "aliases")
    # Short tokens (the IDs of token_heavy would first meet the document's length limit).
    too_many = "{ nodes(ids: [" + " 1" * (settings.max_tokens - 11) + "]) { id } }"
    assert_refused(await client.post(too_many, token=user.token), "tokens")


async def test_aliases_hidden_in_fragments_count(build_app, user: SignedUp) -> None:
    app = build_app(GATEWAY_MAX_ALIASES=3)
    query = """{ ...A ...B }
    fragment A on Query { a1: viewer { id } a2: viewer { id } }
    fragment B on Query { b1: viewer { id } b2: viewer { id } }"""
    async with connect(app) as small:
        assert_refused(await small.post(query, token=user.token), "aliases")


# --- a client error next to fields still loading ------------------------------------------------


async def test_client_error_beside_loading_fields_stays_a_coded_error(
    client: GraphQLClient, user: SignedUp, resources: Resources
) -> None:
    """When one field fails, graphql-core cancels its siblings mid-query: the answer is still the
    client's coded error (no driver message), and no database connection is left checked out."""
    query = """{ viewer {
      documents { totalCount nodes { id } } integrations { totalCount } tasks { totalCount }
      chatSessions(first: 101) { totalCount } } }"""
    for _ in range(10):
        response = await client.post(query, token=user.token)
        assert response.status_code == 200
        body = response.json()
        assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]
        assert body["data"] == {"viewer": None}
        assert_no_trace(response.text)
        assert resources.engine.pool.checkedout() == 0
    assert (await client.data(VIEWER, token=user.token))["viewer"] == {"id": user.id}


# --- production hardening -----------------------------------------------------------------------

INTROSPECTION = "{ __schema { queryType { name } types { name } } }"


async def test_production_refuses_introspection(build_app, user: SignedUp) -> None:
    async with connect(build_app(GATEWAY_ENV="production")) as production:
        for query in (INTROSPECTION, '{ __type(name: "User") { fields { name } } }'):
            response = await production.post(query, token=user.token)
            assert response.status_code == 200
            body = response.json()
            assert body.get("data") is None
            assert "introspection" in first_error(body)["message"].lower()
            assert "User" not in json.dumps(body.get("data"))
        # Ordinary queries still work.
        assert (await production.data(VIEWER, token=user.token))["viewer"] == {"id": user.id}
    async with connect(build_app()) as development:
        assert (await development.data(INTROSPECTION))["__schema"]["queryType"] == {"name": "Query"}


async def test_production_gives_no_field_suggestions(build_app, user: SignedUp) -> None:
    """Without introspection, "Did you mean 'viewer'?" would still map the schema, one guess at a time."""
    typos = [
        "{ viewr { id } }",
        "{ viewer { chatSesions { totalCount } } }",
        "{ viewer { chatSessions(orderBy: LAST_ACTIVITY) { totalCount } } }",
        "mutation { registr(input: {}) { user { id } } }",
    ]
    async with connect(build_app(GATEWAY_ENV="production")) as production:
        for query in typos:
            body = (await production.post(query, token=user.token)).json()
            assert body["errors"], body
            assert all("did you mean" not in error["message"].lower() for error in body["errors"]), body
    async with connect(build_app()) as development:
        body = (await development.post(typos[0], token=user.token)).json()
        assert "Did you mean 'viewer'?" in first_error(body)["message"]


async def test_production_does_not_serve_graphiql(build_app) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml"}
    async with connect(build_app()) as development:
        page = await development.http.get("/graphql", headers=browser)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "graphiql" in page.text.lower()
    async with connect(build_app(GATEWAY_ENV="production")) as production:
        page = await production.http.get("/graphql", headers=browser)
        assert not page.headers.get("content-type", "").startswith("text/html")
        assert "graphiql" not in page.text.lower()
        assert page.status_code != 200


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def unreachable_database(resources: Resources, tmp_path) -> AsyncIterator[Callable[..., Starlette]]:
    """Apps whose database is a closed port (with a password in its URL), the rest real."""
    url = f"postgresql://gateway:s3cret-pw@127.0.0.1:{_closed_port()}/unreachable_db"
    engine = create_engine(url, pool_size=1)

    def build(**env: Any) -> Starlette:
        settings = Settings(
            GATEWAY_DATA_DIR=str(tmp_path), GATEWAY_JWT_PRIVATE_KEYS=resources.settings.jwt_private_keys, **env
        )
        return create_app(
            dataclasses.replace(resources, settings=settings, engine=engine, sessionmaker=session_factory(engine))
        )

    yield build
    await engine.dispose()


SECRETS_OF_THE_FAILURE = (
    "s3cret",
    "unreachable_db",
    "127.0.0.1",
    "asyncpg",
    "sqlalchemy",
    "Errno",
    "ConnectionRefused",
    "connect call failed",
)


@pytest.mark.parametrize("env", ["production", "development"])
async def test_unexpected_failure_is_masked(unreachable_database, user: SignedUp, env: str) -> None:
    async with connect(unreachable_database(GATEWAY_ENV=env)) as broken:
        queries = [
            (VIEWER, {}),
            (NODE, {"id": user.id}),
            (
                """mutation($input: LoginInput!) { login(input: $input) { accessToken errors { code } } }""",
                {"input": {"email": user.email, "password": "Correct-Horse-9"}},
            ),
        ]
        for query, variables in queries:
            response = await broken.post(query, variables, token=user.token)
            assert response.status_code == 200
            body = response.json()
            error = first_error(body)
            if env == "production":
                assert error["message"] == "Unexpected error."
            assert set(error.get("extensions") or {}) <= {"code"}
            assert_no_trace(response.text)
            for secret in SECRETS_OF_THE_FAILURE:
                assert secret.lower() not in response.text.lower()


# --- random valid queries -----------------------------------------------------------------------


def _query_schema() -> tuple[str, list[str]]:
    import graphql

    sdl = print_schema(build_schema(Settings()))
    query_type = graphql.build_schema(sdl).query_type
    assert query_type is not None
    return sdl, sorted(query_type.fields)


SDL, QUERY_FIELDS = _query_schema()


def _queries(known_ids: list[str]) -> st.SearchStrategy[str]:
    """Random valid queries whose ID arguments are mostly real: the fuzz user's objects, other
    types' keys, random keys, or any string."""
    from hypothesis_graphql import from_schema, nodes

    type_names = ["User", "ChatSession", "Message", "Integration", "Document", "MCPAgent", "Task", "Other"]
    ids = st.one_of(
        st.sampled_from(known_ids),
        st.builds(lambda name, key: to_base64(name, str(key)), st.sampled_from(type_names), st.uuids()),
        st.text(max_size=20),
    )
    return from_schema(SDL, fields=QUERY_FIELDS, allow_x00=False, custom_scalars={"ID": ids.map(nodes.String)})


@pytest.fixture
async def fuzz_user(client: GraphQLClient, pg) -> tuple[SignedUp, list[str]]:
    """A user with one row of everything (and the global IDs of them), so random queries reach
    real objects."""
    signed = await client.register()
    agent = await factories.agent(pg)
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
    return signed, [gid(type_name, pk) for type_name, pk in rows.items()]


@hypothesis_settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
async def test_random_valid_queries_never_answer_with_a_trace(
    client: GraphQLClient, fuzz_user: tuple[SignedUp, list[str]], resources: Resources, data: st.DataObject
) -> None:
    signed, known_ids = fuzz_user
    query = data.draw(_queries(known_ids), label="query")
    response = await client.post(query, token=signed.token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "data" in body or "errors" in body
    for error in body.get("errors") or []:
        assert_no_trace(error["message"])
        # Random but valid queries may hit client errors (bad IDs, cursors, page sizes, limits), never
        # a failure we did not plan for.
        assert error["message"] != "Unexpected error.", query
    assert_no_trace(response.text)
    assert resources.engine.pool.checkedout() == 0
