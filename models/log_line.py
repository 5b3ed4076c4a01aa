"""The columns a lifecycle's log table shares with the others (`task_logs`, `document_processing_logs`):
what happened, the status it left behind, a message and how long it took, stamped by the database.
Declared by type, as `Keyed` explains: each table gets columns of its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, text
from sqlmodel import Field

from models.base import Keyed, utcnow

EVENT_MAX = 30
STATUS_MAX = 20


class LogLine(Keyed):
    event: str = Field(sa_type=String(EVENT_MAX), nullable=False)
    status: str | None = Field(default=None, sa_type=String(STATUS_MAX))
    message: str | None = Field(default=None, sa_type=Text)
    duration_ms: int | None = Field(default=None, sa_type=Integer)
    logged_at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        index=True,
        sa_column_kwargs={"server_default": text("now()")},
    )
