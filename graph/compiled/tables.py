"""What the compiler knows of the schema: which node types are rows of which table (their column fields,
by `node_columns`, the one mapping the resolvers build nodes with) and which connections are owned lists
of which table, with the same orders (loaders/chat.py) and filters (loaders/chat.py's page specs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from strawberry.utils.str_converters import to_camel_case

from graph.chat.types import ChatSessionNode, MessageNode
from graph.node import node_columns
from graph.users.types import UserNode
from loaders.chat import MESSAGE_ORDERS, SESSION_ORDERS
from loaders.pagination import Order
from models.chat import SessionStatus


@dataclass(frozen=True)
class TableSpec:
    type_name: str
    table: str
    columns: Mapping[str, str]  # GraphQL field name -> column


def _table(node: type[Any], table: str) -> TableSpec:
    name: str = node.__strawberry_definition__.name
    return TableSpec(name, table, {to_camel_case(field): column for field, column in node_columns(node).items()})


@dataclass(frozen=True)
class ConnectionSpec:
    """An owned list: rows of `child` whose `parent_column` is the parent's key, filtered by `where` (SQL
    conditions on the row alias `t`, given the filter's sorted values)."""

    child: str
    parent_column: str
    orders: Mapping[str, Order]
    default_order: str
    filter_field: str
    where: Callable[[tuple[str, ...]], list[str]]


def _session_where(statuses: tuple[str, ...]) -> list[str]:
    """loaders/chat.py `sessions_of_user`: active and archived by default; deleted ones only when asked."""
    chosen = statuses or (SessionStatus.ACTIVE.value, SessionStatus.ARCHIVED.value)
    where = ["t.status IN (" + ", ".join(_literal(value) for value in chosen) + ")"]
    if SessionStatus.DELETED.value not in chosen:
        where.append("t.deleted_at IS NULL")
    return where


def _message_where(roles: tuple[str, ...]) -> list[str]:
    """loaders/chat.py `messages_of_session`: not deleted, of the roles asked for."""
    where = ["t.deleted_at IS NULL"]
    if roles:
        where.append("t.role IN (" + ", ".join(_literal(value) for value in roles) + ")")
    return where


def _literal(value: str) -> str:
    """Filter values are enum values (checked against the enum by graphql-core), quoted all the same."""
    return "'" + value.replace("'", "''") + "'"


TABLES = {
    spec.type_name: spec
    for spec in (
        _table(UserNode, "users"),
        _table(ChatSessionNode, "chat_sessions"),
        _table(MessageNode, "messages"),
    )
}
CONNECTIONS = {
    ("User", "chatSessions"): ConnectionSpec(
        "ChatSession", "user_id", SESSION_ORDERS, "LAST_ACTIVITY_DESC", "status", _session_where
    ),
    ("ChatSession", "messages"): ConnectionSpec(
        "Message", "session_id", MESSAGE_ORDERS, "OLDEST_FIRST", "role", _message_where
    ),
}
