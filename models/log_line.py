"""The columns a lifecycle's log table shares with the others (`task_logs`, `document_processing_logs`):
what happened, the status it left behind, a message and how long it took, stamped by the database.

A mixin declares its columns by type (`sa_type`) rather than as `sa_column` objects: SQLModel hands an
`sa_column` to the table as it is, and one column object cannot belong to two tables; from a type it builds
a fresh column for each table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from models.base import new_id, utcnow

EVENT_MAX = 30
STATUS_MAX = 20


class LogLine(SQLModel):
    id: uuid.UUID = Field(
        default_factory=new_id,
        primary_key=True,
        sa_type=UUID(as_uuid=True),
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
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
