"""Chat sessions and messages: node visibility, page specs, orders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, select

from loaders import visibility
from loaders.columns import row_columns
from loaders.pagination import Order, PageSpec
from loaders.session import RequestDb
from loaders.visibility import chat_sessions as sessions
from loaders.visibility import messages, soft_deleted
from models.chat import SessionStatus

SESSION_COLUMNS = row_columns(sessions)
MESSAGE_COLUMNS = row_columns(messages)

SESSION_ORDERS = {
    "LAST_ACTIVITY_DESC": Order("sla-", (sessions.c.last_activity_at, sessions.c.id), descending=True),
    "LAST_ACTIVITY_ASC": Order("sla+", (sessions.c.last_activity_at, sessions.c.id), descending=False),
    "CREATED_AT_DESC": Order("scr-", (sessions.c.created_at, sessions.c.id), descending=True),
    "CREATED_AT_ASC": Order("scr+", (sessions.c.created_at, sessions.c.id), descending=False),
}
MESSAGE_ORDERS = {
    # By the per-session sequence, not the timestamp: NOW() is the transaction start, so timestamps of
    # concurrent sends can disagree with the order they committed in.
    "OLDEST_FIRST": Order("msq+", (messages.c.seq, messages.c.id), descending=False),
    "NEWEST_FIRST": Order("msq-", (messages.c.seq, messages.c.id), descending=True),
}


@dataclass(frozen=True)
class SessionFilter:
    statuses: tuple[str, ...] = (SessionStatus.ACTIVE, SessionStatus.ARCHIVED)


@dataclass(frozen=True)
class MessageFilter:
    roles: tuple[str, ...] = ()


def visible_sessions(viewer_id: uuid.UUID | None) -> Select[Any]:
    return visibility.visible_chat_sessions(viewer_id, *SESSION_COLUMNS)


def visible_messages(viewer_id: uuid.UUID | None) -> Select[Any]:
    return visibility.visible_messages(viewer_id, *MESSAGE_COLUMNS)


def sessions_of_user(spec_filter: SessionFilter) -> PageSpec:
    """The parent is the viewer: the lists hang off `viewer`."""
    where: list[ColumnElement[bool]] = [sessions.c.status.in_(spec_filter.statuses)]
    if SessionStatus.DELETED not in spec_filter.statuses:
        where.append(soft_deleted(sessions))
    return PageSpec(base=select(*SESSION_COLUMNS), parent=sessions.c.user_id, where=tuple(where))


def messages_of_session(spec_filter: MessageFilter) -> PageSpec:
    where = [soft_deleted(messages)]
    if spec_filter.roles:
        where.append(messages.c.role.in_(spec_filter.roles))
    return PageSpec(base=select(*MESSAGE_COLUMNS), parent=messages.c.session_id, where=tuple(where))


async def owned_session(db: RequestDb, viewer_id: uuid.UUID, session_id: uuid.UUID) -> Row[Any] | None:
    rows = await db.rows(visible_sessions(viewer_id).where(sessions.c.id == session_id))
    return rows[0] if rows else None


async def messages_after(db: RequestDb, session_id: uuid.UUID, after_seq: int, limit: int) -> Sequence[Row[Any]]:
    """The next messages of a session by sequence, soft-deleted ones included (a reader skips them but
    still moves past their numbers)."""
    return await db.rows(
        select(*MESSAGE_COLUMNS)
        .where(messages.c.session_id == session_id, messages.c.seq > after_seq)
        .order_by(messages.c.seq)
        .limit(limit)
    )
