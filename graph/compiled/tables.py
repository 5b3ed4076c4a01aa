"""What the compiler knows of the schema, all of it taken from what the resolvers use:
- node types: their column fields (`node_columns`, the one mapping the resolvers build nodes with) and the
  rows of them a viewer may read by id (the loaders' rule behind `node(id:)` and every relation field);
- connections: the list (`Listing`: filter input -> filter, orders) and the loaders' page spec it reads;
- to-one relations: the column naming the related row, read under the related type's rule.
A rule that needs more than the database (Redis, settings, Python) keeps its field with the resolvers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from strawberry.utils.str_converters import to_camel_case

from graph.agents.types import AGENTS, MCPAgentNode
from graph.chat.types import CHAT_SESSIONS, MESSAGES, ChatSessionNode, MessageNode
from graph.connection import Listing
from graph.documents.types import DOCUMENTS, DocumentNode
from graph.integrations.types import INTEGRATIONS, IntegrationNode
from graph.node import node_columns
from graph.tasks.types import TASKS, TaskNode
from graph.users.types import UserNode
from loaders.agents import agents_registry, visible_agents
from loaders.base import SpecFor
from loaders.chat import messages_of_session, sessions_of_user, visible_messages, visible_sessions
from loaders.documents import documents_of_user, visible_documents
from loaders.integrations import integrations_of_user, visible_integrations
from loaders.tasks import tasks_of_agent, tasks_of_session, tasks_of_user, visible_tasks
from loaders.users import visible_users


@dataclass(frozen=True)
class TableSpec:
    type_name: str
    columns: Mapping[str, str]  # GraphQL field name -> column
    visible: Callable[[uuid.UUID], Select[Any]]  # the rows the viewer may read by id, as the loaders read them


def _table(node: type[Any], visible: Callable[[uuid.UUID], Select[Any]]) -> TableSpec:
    name: str = node.__strawberry_definition__.name
    columns = {to_camel_case(field): column for field, column in node_columns(node).items()}
    return TableSpec(name, columns, visible)


@dataclass(frozen=True)
class ConnectionSpec:
    """A list: `listing` reads the field's arguments as the resolver does; `rows(viewer)` is the loaders'
    page spec for a filter (rows of the parent by `spec.parent`, with the filter's conditions)."""

    listing: Listing[Any, Any]
    rows: Callable[[uuid.UUID], SpecFor]


def _owned(spec_for: SpecFor) -> Callable[[uuid.UUID], SpecFor]:
    """A list whose parent is already the viewer's own (or shared): its spec does not name the viewer."""
    return lambda _viewer: spec_for


@dataclass(frozen=True)
class RelationSpec:
    """A to-one relation field: the row of `target` whose id the parent's `column` holds, null where the
    viewer may not read it (`load_node` through the target's loader by id)."""

    target: str
    column: str


TABLES = {
    spec.type_name: spec
    for spec in (
        _table(UserNode, visible_users),
        _table(ChatSessionNode, visible_sessions),
        _table(MessageNode, visible_messages),
        _table(DocumentNode, visible_documents),
        _table(TaskNode, visible_tasks),
        _table(IntegrationNode, visible_integrations),
        _table(MCPAgentNode, visible_agents),
    )
}
# `node(id:)` of these is answered from a cache by the resolvers: a document's metadata from Redis
# (services/document_cache.py, one MGET, no statement). Compiled, it would read PostgreSQL instead.
CACHED_BY_ID = frozenset({"Document"})
CONNECTIONS = {
    ("User", "chatSessions"): ConnectionSpec(CHAT_SESSIONS, _owned(sessions_of_user)),
    ("ChatSession", "messages"): ConnectionSpec(MESSAGES, _owned(messages_of_session)),
    ("ChatSession", "tasks"): ConnectionSpec(TASKS, tasks_of_session),
    ("User", "documents"): ConnectionSpec(DOCUMENTS, _owned(documents_of_user)),
    ("User", "tasks"): ConnectionSpec(TASKS, _owned(tasks_of_user)),
    ("MCPAgent", "tasks"): ConnectionSpec(TASKS, tasks_of_agent),
    ("User", "integrations"): ConnectionSpec(INTEGRATIONS, _owned(integrations_of_user)),
    # The registry (loaders/agents.py): its page spec's parent is a constant, `REGISTRY`.
    ("Query", "agents"): ConnectionSpec(AGENTS, _owned(agents_registry)),
}
RELATIONS = {
    ("Task", "session"): RelationSpec("ChatSession", "session_id"),
    ("Task", "agent"): RelationSpec("MCPAgent", "agent_id"),
    ("Message", "session"): RelationSpec("ChatSession", "session_id"),
}
