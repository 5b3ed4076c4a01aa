"""The GraphQL documents under test and the checks that their answers are right.

A benchmark of a wrong answer is worthless, and a broken server is often a fast one (an empty page,
an error, a missing filter), so every answer used for a figure is checked: in full against the
baseline before the timed run, and cheaply (status, no `errors`, same size as the verified answer,
plus a full comparison of a sample) during it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bench.config import MESSAGES_PAGE, SESSIONS_PAGE

LOGIN = """
mutation($input: LoginInput!) { login(input: $input) { accessToken errors { code message } } }
"""
NESTED = (
    f"{{ viewer {{ chatSessions(first: {SESSIONS_PAGE}) {{ edges {{ node {{ id title messages(first: {MESSAGES_PAGE}) "
    "{ edges { node { id role content timestamp } } } } } } } }"
)
NODE = "query($id: ID!) { node(id: $id) { id ... on ChatSession { title messageCount lastActivityAt } } }"


class WrongAnswer(AssertionError):
    """The server answered, but not what the data says it should."""


def body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def data_of(raw: bytes | str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise WrongAnswer(f"not JSON: {str(raw)[:200]}") from exc
    if document.get("errors"):
        raise WrongAnswer(f"GraphQL errors: {json.dumps(document['errors'])[:500]}")
    data = document.get("data")
    if not isinstance(data, dict):
        raise WrongAnswer(f"no data: {str(raw)[:200]}")
    return data


def _instant(value: str) -> datetime:
    # The gateway prints 6 fraction digits, PostgreSQL drops trailing zeros: compare instants.
    return datetime.fromisoformat(value)


def _same(path: str, got: Any, want: Any) -> None:
    if got != want:
        raise WrongAnswer(f"{path}: gateway {got!r} != baseline {want!r}")


def check_nested(gateway: dict[str, Any], baseline: dict[str, Any]) -> None:
    """Shape first (100 sessions x 20 messages, the issue's page), then every field against SQL."""
    viewer = gateway.get("viewer")
    if viewer is None:
        raise WrongAnswer("viewer is null: the bearer token was not accepted")
    sessions = viewer["chatSessions"]["edges"]
    if len(sessions) != SESSIONS_PAGE:
        raise WrongAnswer(f"{len(sessions)} sessions, expected {SESSIONS_PAGE}")
    for index, edge in enumerate(sessions):
        count = len(edge["node"]["messages"]["edges"])
        if count != MESSAGES_PAGE:
            raise WrongAnswer(f"session #{index} has {count} messages, expected {MESSAGES_PAGE}")
    wanted = baseline["viewer"]["chatSessions"]["edges"]
    _same("session count", len(sessions), len(wanted))
    for index, (edge, want) in enumerate(zip(sessions, wanted, strict=True)):
        got_node, want_node = edge["node"], want["node"]
        _same(f"sessions[{index}].id", got_node["id"], want_node["id"])
        _same(f"sessions[{index}].title", got_node["title"], want_node["title"])
        messages = got_node["messages"]["edges"]
        for position, (message, expected) in enumerate(zip(messages, want_node["messages"]["edges"], strict=True)):
            path = f"sessions[{index}].messages[{position}]"
            got_m, want_m = message["node"], expected["node"]
            _same(f"{path}.id", got_m["id"], want_m["id"])
            _same(f"{path}.role", str(got_m["role"]).upper(), str(want_m["role"]).upper())
            _same(f"{path}.content", got_m["content"], want_m["content"])
            _same(f"{path}.timestamp", _instant(got_m["timestamp"]), _instant(want_m["timestamp"]))


def check_node(gateway: dict[str, Any], baseline: dict[str, Any]) -> None:
    got, want = gateway.get("node"), baseline["node"]
    if got is None:
        raise WrongAnswer(f"node {want['id']} is null")
    for key in ("id", "title", "messageCount"):
        _same(f"node.{key}", got.get(key), want[key])
    _same("node.lastActivityAt", _instant(got["lastActivityAt"]), _instant(want["lastActivityAt"]))
