"""assistant_replies: one row per answer the assistant owes to a user's message (its lifecycle is
resolvers/reply_lifecycle.py). The answer itself is a message; this row only orders and guards the work."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Identity, Index, text
from sqlmodel import Field

from models.base import Keyed, owner_fk, tstz, utcnow, varchar


class ReplyStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    ANSWERED = "answered"
    FAILED = "failed"
    DROPPED = "dropped"  # nothing to answer any more: the session or the message went away


class AssistantReply(Keyed, table=True):
    __tablename__ = "assistant_replies"
    __table_args__ = (
        Index("idx_assistant_replies_session_position", "session_id", "position"),
        # One reply at a time per session: the table itself refuses a second running one.
        Index(
            "idx_assistant_replies_one_running",
            "session_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
    )

    session_id: uuid.UUID = Field(sa_column=owner_fk("chat_sessions.id", ondelete="CASCADE", name="session_id"))
    user_id: uuid.UUID = Field(sa_column=owner_fk("users.id", ondelete="CASCADE", name="user_id"))
    reply_to: uuid.UUID = Field(sa_column=owner_fk("messages.id", ondelete="CASCADE", name="reply_to", index=True))
    # Taken while the session's row is locked (sendMessage, regenerateReply): replies of a session are
    # produced in this order.
    position: int | None = Field(
        default=None, sa_column=Column("position", BigInteger, Identity(always=False), nullable=False)
    )
    status: str = Field(
        default=ReplyStatus.QUEUED, sa_column=varchar("status", 20, nullable=False, default="queued", index=True)
    )
    error_code: str | None = Field(default=None, sa_column=varchar("error_code", 40))
    message_id: uuid.UUID | None = Field(
        default=None, sa_column=owner_fk("messages.id", ondelete="SET NULL", nullable=True, name="message_id")
    )
    worker: str | None = Field(default=None, sa_column=varchar("worker", 40))
    created_at: datetime = Field(default_factory=utcnow, sa_column=tstz("created_at", default_now=True))
    started_at: datetime | None = Field(default=None, sa_column=tstz("started_at"))
    finished_at: datetime | None = Field(default=None, sa_column=tstz("finished_at"))
