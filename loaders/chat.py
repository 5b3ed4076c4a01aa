"""Chat sessions and messages: node visibility, page specs, orders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, false, select

from loaders.columns import row_columns
from loaders.pagination import Order, PageSpec
from models import ChatSession, Message
from models.chat import SessionStatus

sessions = ChatSession.__table__  # type: ignore[attr-defined]
messages = Message.__table__  # type: ignore[attr-defined]
SESSION_COLUMNS = row_columns(sessions)
MESSAGE_COLUMNS = row_columns(messages)

SESSION_ORDERS = {
    "LAST_ACTIVITY_DESC": Order("sla-", (sessions.c.last_activity_at, sessions.c.id), descending=True),
    "LAST_ACTIVITY_ASC": Order("sla+", (sessions.c.last_activity_at, sessions.c.id), descending=False),
    "CREATED_AT_DESC": Order("scr-", (sessions.c.created_at, sessions.c.id), descending=True),
    "CREATED_AT_ASC": Order("scr+", (sessions.c.created_at, sessions.c.id), descending=False),
}
MESSAGE_ORDERS = {
    "OLDEST_FIRST": Order("mts+", (messages.c.timestamp, messages.c.id), descending=False),
    "NEWEST_FIRST": Order("mts-", (messages.c.timestamp, messages.c.id), descending=True),
}


@dataclass(frozen=True)
class SessionFilter:
    statuses: tuple[str, ...] = (SessionStatus.ACTIVE, SessionStatus.ARCHIVED)


@dataclass(frozen=True)
class MessageFilter:
    roles: tuple[str, ...] = ()


def visible_sessions(viewer_id: uuid.UUID | None) -> Select[Any]:
    if viewer_id is None:
        return select(*SESSION_COLUMNS).where(false())
    return select(*SESSION_COLUMNS).where(sessions.c.user_id == viewer_id, sessions.c.deleted_at.is_(None))


def visible_messages(viewer_id: uuid.UUID | None) -> Select[Any]:
    if viewer_id is None:
        return select(*MESSAGE_COLUMNS).where(false())
    return (
        select(*MESSAGE_COLUMNS)
        .join(sessions, sessions.c.id == messages.c.session_id)
        .where(sessions.c.user_id == viewer_id, sessions.c.deleted_at.is_(None),
               messages.c.deleted_at.is_(None))
    )


def sessions_of_user(spec_filter: SessionFilter) -> PageSpec:
    where = [sessions.c.status.in_(spec_filter.statuses)]
    if SessionStatus.DELETED not in spec_filter.statuses:
        where.append(sessions.c.deleted_at.is_(None))
    return PageSpec(base=select(*SESSION_COLUMNS), parent=sessions.c.user_id, where=tuple(where))


def messages_of_session(spec_filter: MessageFilter) -> PageSpec:
    where = [messages.c.deleted_at.is_(None)]
    if spec_filter.roles:
        where.append(messages.c.role.in_(spec_filter.roles))
    return PageSpec(base=select(*MESSAGE_COLUMNS), parent=messages.c.session_id, where=tuple(where))
