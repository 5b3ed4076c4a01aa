"""chat_sessions and messages: conversations between a user and the assistant."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, Integer
from sqlmodel import Field

from models.base import Keyed, integer, jsonb, owner_fk, text_col, tstz, utcnow, varchar

TITLE_MAX = 255
CONTENT_MAX = 10_000


class SessionStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class ChatSession(Keyed, table=True):
    __tablename__ = "chat_sessions"
    __table_args__ = (
        Index("idx_chat_sessions_last_activity", "last_activity_at"),
        # A user's sessions by activity, the default order of `viewer.chatSessions` (migration pag1).
        Index("idx_chat_sessions_user_activity", "user_id", "last_activity_at", "id"),
    )

    user_id: uuid.UUID = Field(sa_column=owner_fk("users.id", ondelete="CASCADE", name="user_id", index=True))
    title: str | None = Field(default=None, sa_column=varchar("title", TITLE_MAX))
    context_data: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb("context_data"))
    status: str = Field(default=SessionStatus.ACTIVE, sa_column=varchar("status", 20, default="active", index=True))
    message_count: int = Field(default=0, sa_column=integer("message_count", default=0))
    last_activity_at: datetime = Field(default_factory=utcnow, sa_column=tstz("last_activity_at", default_now=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=tstz("created_at", default_now=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=tstz("updated_at", default_now=True))
    deleted_at: datetime | None = Field(default=None, sa_column=tstz("deleted_at"))


RESTORE_WINDOW_DAYS = 30


class Message(Keyed, table=True):
    __tablename__ = "messages"
    __table_args__ = (Index("idx_messages_session_seq", "session_id", "seq", unique=True),)

    session_id: uuid.UUID = Field(
        sa_column=owner_fk("chat_sessions.id", ondelete="CASCADE", name="session_id", index=True)
    )
    role: str = Field(sa_column=varchar("role", 20, nullable=False, index=True))
    content: str = Field(sa_column=text_col("content", nullable=False))
    # `metadata` is taken by SQLAlchemy's declarative base; the column keeps its seed name.
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb("metadata"))
    token_count: int | None = Field(default=None, sa_column=integer("token_count"))
    processing_time_ms: int | None = Field(default=None, sa_column=integer("processing_time_ms"))
    timestamp: datetime = Field(default_factory=utcnow, sa_column=tstz("timestamp", default_now=True, index=True))
    edited_at: datetime | None = Field(default=None, sa_column=tstz("edited_at"))
    deleted_at: datetime | None = Field(default=None, sa_column=tstz("deleted_at"))
    # Added by migration 0003: position in the session, 1, 2, 3... with no gaps (see the migration).
    seq: int = Field(sa_column=Column("seq", Integer, nullable=False))
