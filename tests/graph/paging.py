"""Shared helpers of the graph tests: one description per connection (how to query it, how to fill it
with rows in a known order), page walking, and checks of client errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from tests import factories as f
from tests.graphql_client import GraphQLClient, SignedUp

PAGE = """totalCount
pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
edges { cursor node { id } }"""

PROVIDERS = ("gmail", "google_calendar", "hubspot", "outlook", "slack")  # PROVIDER_ASC order


@dataclass(frozen=True)
class Lit:
    """A GraphQL literal written as is (enums, input objects)."""

    text: str


def render_args(args: dict[str, Any]) -> str:
    parts = []
    for name, value in args.items():
        if isinstance(value, Lit):
            parts.append(f"{name}: {value.text}")
        else:
            parts.append(f"{name}: {json.dumps(value)}")
    return ", ".join(parts)


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def new_agent(pg: asyncpg.Connection, **kwargs: Any) -> uuid.UUID:
    """An agent of the shared registry named to sort after the `agent-...` names other tests list."""
    return await f.agent(pg, name=unique("zz-agent"), **kwargs)


# `make(pg, user, keys)` stores one row per key, the key being what the default order sorts by (minutes,
# seconds, a name index, a provider index), and answers (context for the query, the rows' global ids in
# `keys` order).
Maker = Callable[[asyncpg.Connection, SignedUp, list[int]], Awaitable[tuple[dict[str, str], list[str]]]]


@dataclass(frozen=True)
class Conn:
    name: str
    template: str  # `ARGS` is replaced by the arguments, `SEL` by the selection, `{key}` by the context
    path: tuple[str, ...]
    make: Maker
    descending: bool  # the default order, by key
    alternative_order: str  # another `orderBy` value, for cursor-order checks
    base_args: str = ""  # arguments always passed (`{key}` filled from the context)
    max_rows: int | None = None  # integrations: one per provider

    def query(self, ctx: dict[str, str], args: dict[str, Any], selection: str = PAGE) -> str:
        rendered = ", ".join(part for part in (self.base_args, render_args(args)) if part)
        text = self.template.replace("ARGS", f"({rendered})" if rendered else "").replace("SEL", selection)
        for key, value in ctx.items():
            text = text.replace("{" + key + "}", value)
        return text

    def expected(self, keys: list[int], ids: list[str]) -> list[str]:
        return [pk for _, pk in sorted(zip(keys, ids, strict=True), reverse=self.descending)]

    def extract(self, data: dict[str, Any]) -> dict[str, Any]:
        for step in self.path:
            data = data[step]
        return data


async def _sessions(pg: asyncpg.Connection, user: SignedUp, keys: list[int]) -> tuple[dict[str, str], list[str]]:
    ids = [f.gid("ChatSession", await f.session(pg, user.pk, minutes=key, title=f"s{key}")) for key in keys]
    return {}, ids


async def _documents(pg: asyncpg.Connection, user: SignedUp, keys: list[int]) -> tuple[dict[str, str], list[str]]:
    ids = [f.gid("Document", await f.document(pg, user.pk, minutes=key, name=f"doc-{key:03d}.pdf")) for key in keys]
    return {}, ids


async def _integrations(pg: asyncpg.Connection, user: SignedUp, keys: list[int]) -> tuple[dict[str, str], list[str]]:
    ids = [f.gid("Integration", await f.integration(pg, user.pk, provider=PROVIDERS[key])) for key in keys]
    return {}, ids


async def _viewer_tasks(pg: asyncpg.Connection, user: SignedUp, keys: list[int]) -> tuple[dict[str, str], list[str]]:
    agent = await new_agent(pg)
    ids = [f.gid("Task", await f.task(pg, user.pk, agent, minutes=key)) for key in keys]
    return {}, ids


async def _messages(pg: asyncpg.Connection, user: SignedUp, keys: list[int]) -> tuple[dict[str, str], list[str]]:
    """Messages are ordered by their per-session `seq`, which is the order they were written in: write
    them in key order (timestamps deliberately reversed, so an order by timestamp would show)."""
    session = await f.session(pg, user.pk)
    ids: list[str] = [""] * len(keys)
    for index, key in sorted(enumerate(keys), key=lambda pair: pair[1]):
        message = await f.message(pg, session, seconds=-key, content=f"m{key}")
        ids[index] = f.gid("Message", message)
    return {"parent": f.gid("ChatSession", session)}, ids


async def _session_tasks(pg: asyncpg.Connection, user: SignedUp, keys: list[int]) -> tuple[dict[str, str], list[str]]:
    session = await f.session(pg, user.pk)
    agent = await new_agent(pg)
    ids = [f.gid("Task", await f.task(pg, user.pk, agent, session_id=session, minutes=key)) for key in keys]
    return {"parent": f.gid("ChatSession", session)}, ids


async def _agent_tasks(pg: asyncpg.Connection, user: SignedUp, keys: list[int]) -> tuple[dict[str, str], list[str]]:
    agent = await new_agent(pg)
    ids = [f.gid("Task", await f.task(pg, user.pk, agent, minutes=key)) for key in keys]
    return {"parent": f.gid("MCPAgent", agent)}, ids


async def _agents(pg: asyncpg.Connection, _user: SignedUp, keys: list[int]) -> tuple[dict[str, str], list[str]]:
    """Agents are shared by every test: each arrangement gets a capability no other agent offers."""
    capability = unique("cap")
    prefix = unique("zz-conn")
    ids = [
        f.gid(
            "MCPAgent",
            await f.agent(pg, name=f"{prefix}-{key:03d}", capabilities=[{"name": capability, "description": "d"}]),
        )
        for key in keys
    ]
    return {"capability": capability}, ids


CONNECTIONS = [
    Conn(
        "viewer.chatSessions",
        "{ viewer { chatSessions ARGS { SEL } } }",
        ("viewer", "chatSessions"),
        _sessions,
        descending=True,
        alternative_order="LAST_ACTIVITY_ASC",
    ),
    Conn(
        "viewer.documents",
        "{ viewer { documents ARGS { SEL } } }",
        ("viewer", "documents"),
        _documents,
        descending=True,
        alternative_order="FILENAME_ASC",
    ),
    Conn(
        "viewer.integrations",
        "{ viewer { integrations ARGS { SEL } } }",
        ("viewer", "integrations"),
        _integrations,
        descending=False,
        alternative_order="CONNECTED_AT_DESC",
        max_rows=len(PROVIDERS),
    ),
    Conn(
        "viewer.tasks",
        "{ viewer { tasks ARGS { SEL } } }",
        ("viewer", "tasks"),
        _viewer_tasks,
        descending=True,
        alternative_order="STARTED_AT_ASC",
    ),
    Conn(
        "ChatSession.messages",
        '{ node(id: "{parent}") { ... on ChatSession { messages ARGS { SEL } } } }',
        ("node", "messages"),
        _messages,
        descending=False,
        alternative_order="NEWEST_FIRST",
    ),
    Conn(
        "ChatSession.tasks",
        '{ node(id: "{parent}") { ... on ChatSession { tasks ARGS { SEL } } } }',
        ("node", "tasks"),
        _session_tasks,
        descending=True,
        alternative_order="STARTED_AT_ASC",
    ),
    Conn(
        "MCPAgent.tasks",
        '{ node(id: "{parent}") { ... on MCPAgent { tasks ARGS { SEL } } } }',
        ("node", "tasks"),
        _agent_tasks,
        descending=True,
        alternative_order="STARTED_AT_ASC",
    ),
    Conn(
        "agents",
        "{ agents ARGS { SEL } }",
        ("agents",),
        _agents,
        descending=False,
        alternative_order="NAME_DESC",
        base_args='filter: {capability: "{capability}"}',
    ),
]
BY_NAME = {conn.name: conn for conn in CONNECTIONS}


async def fetch(
    client: GraphQLClient, user: SignedUp, conn: Conn, ctx: dict[str, str], selection: str = PAGE, **args: Any
) -> dict[str, Any]:
    return conn.extract(await client.data(conn.query(ctx, args, selection), token=user.token))


def ids_of(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def assert_bad_user_input(response: httpx.Response, *, mentions: str | None = None) -> dict[str, Any]:
    """A client mistake: HTTP 200, a GraphQL error coded BAD_USER_INPUT, a readable message, no trace."""
    assert response.status_code == 200, response.text
    body = response.json()
    errors = body.get("errors")
    assert errors, body
    codes = [error.get("extensions", {}).get("code") for error in errors]
    assert codes == ["BAD_USER_INPUT"] * len(errors), errors
    for error in errors:
        assert error["message"] != "Unexpected error."
        if mentions is not None:
            assert mentions in error["message"], error
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    assert "stacktrace" not in response.text.lower()
    return body


async def walk_forward(
    client: GraphQLClient, user: SignedUp, conn: Conn, ctx: dict[str, str], *, size: int, total: int, **extra: Any
) -> list[str]:
    """Every page with `first: size`, checking each page's flags, cursors and totalCount."""
    seen: list[str] = []
    after: str | None = None
    while True:
        args: dict[str, Any] = {"first": size, **extra}
        if after is not None:
            args["after"] = after
        page = await fetch(client, user, conn, ctx, **args)
        edges, info = page["edges"], page["pageInfo"]
        assert page["totalCount"] == total  # cursors never change the total
        assert len(edges) == min(size, total - len(seen))
        assert info["startCursor"] == edges[0]["cursor"]
        assert info["endCursor"] == edges[-1]["cursor"]
        assert info["hasPreviousPage"] is (after is not None)
        seen += ids_of(page)
        assert info["hasNextPage"] is (len(seen) < total)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert len(seen) == len(set(seen)) == total
    beyond = await fetch(client, user, conn, ctx, first=size, after=page["pageInfo"]["endCursor"], **extra)
    assert beyond["edges"] == []
    assert beyond["pageInfo"]["hasNextPage"] is False
    assert beyond["pageInfo"]["startCursor"] is None
    assert beyond["pageInfo"]["endCursor"] is None
    assert beyond["totalCount"] == total
    return seen


async def walk_backward(
    client: GraphQLClient, user: SignedUp, conn: Conn, ctx: dict[str, str], *, size: int, total: int, **extra: Any
) -> list[str]:
    """Every page with `last: size`, from the end, checking each page's flags and cursors."""
    collected: list[str] = []
    before: str | None = None
    while True:
        args: dict[str, Any] = {"last": size, **extra}
        if before is not None:
            args["before"] = before
        page = await fetch(client, user, conn, ctx, **args)
        edges, info = page["edges"], page["pageInfo"]
        assert page["totalCount"] == total
        assert len(edges) == min(size, total - len(collected))
        assert info["startCursor"] == edges[0]["cursor"]
        assert info["endCursor"] == edges[-1]["cursor"]
        assert info["hasNextPage"] is (before is not None)
        collected = ids_of(page) + collected
        assert info["hasPreviousPage"] is (len(collected) < total)
        if not info["hasPreviousPage"]:
            break
        before = info["startCursor"]
    assert len(collected) == len(set(collected)) == total
    return collected
