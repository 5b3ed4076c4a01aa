"""Which rows a viewer may read: one statement per table. The loaders select their columns with it, the use
cases their ORM entity (adding `.with_for_update()` when they change the row), so a rule is written once.

The rule (DESIGN, "Authorization"): a user reads only their own rows (every table carries `user_id` or
reaches it through its chat session); soft-deleted rows are invisible unless asked for explicitly
(`deleted=True`, what a restore reads); MCP agents are shared, readable by every signed-in user; an
anonymous viewer reads nothing. Another user's row is answered exactly as a missing one (NOT_FOUND), so
existence never leaks.

`selected` is what the statement selects: columns (`*SESSION_COLUMNS`) or an entity (`ChatSession`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, false, select

from models import ChatSession, Document, Integration, MCPAgent, Message, Task, User
from models.base import table_of

users = table_of(User)
chat_sessions = table_of(ChatSession)
messages = table_of(Message)
documents = table_of(Document)
integrations = table_of(Integration)
agents = table_of(MCPAgent)
tasks = table_of(Task)


def soft_deleted(table: Table, *, deleted: bool = False) -> ColumnElement[bool]:
    """Rows not deleted, or with `deleted` only the soft-deleted ones."""
    return table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)


def _nothing(*selected: Any) -> Select[Any]:
    return select(*selected).where(false())


def visible_users(viewer_id: uuid.UUID | None, *selected: Any) -> Select[Any]:
    """The viewer's own account, while it is not deleted."""
    if viewer_id is None:
        return _nothing(*selected)
    return select(*selected).where(users.c.id == viewer_id, soft_deleted(users))


def visible_chat_sessions(viewer_id: uuid.UUID | None, *selected: Any, deleted: bool = False) -> Select[Any]:
    if viewer_id is None:
        return _nothing(*selected)
    return select(*selected).where(chat_sessions.c.user_id == viewer_id, soft_deleted(chat_sessions, deleted=deleted))


def visible_messages(viewer_id: uuid.UUID | None, *selected: Any) -> Select[Any]:
    """Messages not deleted, in the viewer's chat sessions that are not deleted (joined: `selected` may take
    the session's columns too)."""
    if viewer_id is None:
        return _nothing(*selected)
    return (
        select(*selected)
        .select_from(messages)
        .join(chat_sessions, chat_sessions.c.id == messages.c.session_id)
        .where(chat_sessions.c.user_id == viewer_id, soft_deleted(chat_sessions), soft_deleted(messages))
    )


def visible_documents(viewer_id: uuid.UUID | None, *selected: Any, deleted: bool = False) -> Select[Any]:
    if viewer_id is None:
        return _nothing(*selected)
    return select(*selected).where(documents.c.user_id == viewer_id, soft_deleted(documents, deleted=deleted))


def visible_integrations(viewer_id: uuid.UUID | None, *selected: Any) -> Select[Any]:
    if viewer_id is None:
        return _nothing(*selected)
    return select(*selected).where(integrations.c.user_id == viewer_id, soft_deleted(integrations))


def visible_tasks(viewer_id: uuid.UUID | None, *selected: Any) -> Select[Any]:
    """The viewer's tasks (tasks are never soft-deleted)."""
    if viewer_id is None:
        return _nothing(*selected)
    return select(*selected).where(tasks.c.user_id == viewer_id)


def live_agents(*selected: Any, deleted: bool = False) -> Select[Any]:
    """Agents not deleted: the registry as its operators' use cases and the worker see it (with `deleted`, only
    the deleted ones: what a restore looks for)."""
    return select(*selected).where(soft_deleted(agents, deleted=deleted))


def visible_agents(viewer_id: uuid.UUID | None, *selected: Any) -> Select[Any]:
    """Agents are shared: every signed-in viewer reads the live ones."""
    if viewer_id is None:
        return _nothing(*selected)
    return live_agents(*selected)
