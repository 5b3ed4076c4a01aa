"""tasks: work executed by MCP agents on a user's behalf."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field as DocumentField
from pydantic import StrictBool, field_serializer, field_validator
from sqlalchemy import Index
from sqlmodel import Field

from models.base import Keyed, integer, jsonb, owner_fk, text_col, tstz, utcnow, varchar
from models.json_document import JsonDocument
from models.log_line import LogLine

MAX_DEPENDENCIES = 20


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class TaskMeta(JsonDocument):
    """`tasks.metadata`: `{priority, scheduledFor, dependencies, userVisible, notifyOnComplete, worker}`.
    Missing keys take the defaults here and nowhere else."""

    priority: TaskPriority = TaskPriority.MEDIUM
    # A time with its zone (ISO 8601); the job is not started before it.
    scheduled_for: datetime | None = None
    # Tasks of the same user that must complete first.
    dependencies: tuple[uuid.UUID, ...] = DocumentField(default=(), max_length=MAX_DEPENDENCIES)
    user_visible: StrictBool = True
    notify_on_complete: StrictBool = False
    # The worker running it (set by the claim): the sweep recovers tasks whose worker stopped answering.
    worker: str | None = None
    # The user's integrations the tool may act through: their ids only; tokens are lent per call (issue 11).
    integrations: tuple[uuid.UUID, ...] = DocumentField(default=(), max_length=5)

    @field_validator("priority", mode="before")
    @classmethod
    def _blank_priority_is_medium(cls, value: Any) -> Any:
        return value or TaskPriority.MEDIUM

    @field_validator("scheduled_for", mode="before")
    @classmethod
    def _zoned_time(cls, value: Any) -> datetime:
        """A time with its zone, as ISO 8601 text when stored (no numbers taken as epoch seconds, no naive times)."""
        if not isinstance(value, str | datetime):
            raise ValueError("a scheduled time is ISO 8601 text")
        at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("a scheduled time without a zone")
        return at

    def claimed_by(self, worker_id: str) -> TaskMeta:
        return self.model_copy(update={"worker": worker_id})

    @field_serializer("scheduled_for")
    def _iso(self, value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None


class Task(Keyed, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        # Tasks by start under each parent a connection hangs them off (migration pag1): the viewer, a
        # session, an agent (narrowed to the viewer's own).
        Index("idx_tasks_user_started", "user_id", "started_at", "id"),
        Index("idx_tasks_session_started", "session_id", "started_at", "id"),
        Index("idx_tasks_agent_user_started", "agent_id", "user_id", "started_at", "id"),
    )

    user_id: uuid.UUID = Field(sa_column=owner_fk("users.id", ondelete="CASCADE", name="user_id", index=True))
    session_id: uuid.UUID | None = Field(
        default=None,
        sa_column=owner_fk("chat_sessions.id", ondelete="SET NULL", nullable=True, name="session_id", index=True),
    )
    agent_id: uuid.UUID = Field(sa_column=owner_fk("mcp_agents.id", ondelete="CASCADE", name="agent_id", index=True))
    task_type: str = Field(sa_column=varchar("task_type", 100, nullable=False))
    input_payload: Any = Field(sa_column=jsonb("input_payload", default=None, nullable=False))
    output_payload: Any = Field(default=None, sa_column=jsonb("output_payload", default=None))
    status: str = Field(default=TaskStatus.PENDING, sa_column=varchar("status", 20, default="pending", index=True))
    error_message: str | None = Field(default=None, sa_column=text_col("error_message"))
    # When the task was asked for (the claim no longer overwrites it); the current run's start is
    # `run_started_at` (migration lif1).
    started_at: datetime = Field(default_factory=utcnow, sa_column=tstz("started_at", default_now=True, index=True))
    completed_at: datetime | None = Field(default=None, sa_column=tstz("completed_at"))
    processing_time_ms: int | None = Field(default=None, sa_column=integer("processing_time_ms"))
    retry_count: int = Field(default=0, sa_column=integer("retry_count", default=0))
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb("metadata"))
    run_started_at: datetime | None = Field(default=None, sa_column=tstz("run_started_at"))


LOG_MESSAGE_MAX = 1000


class TaskLogEvent(StrEnum):
    """What a task log line records: a move of the lifecycle, or one failed call attempt."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    ATTEMPT_FAILED = "attempt_failed"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRIED = "retried"
    RECOVERED = "recovered"


class TaskLog(LogLine, table=True):
    """The seed's "task logs" (migration lif1): what happened to a task, kept 90 days."""

    __tablename__ = "task_logs"
    __table_args__ = (Index("idx_task_logs_task_id", "task_id", "logged_at"),)

    task_id: uuid.UUID = Field(sa_column=owner_fk("tasks.id", ondelete="CASCADE", name="task_id"))
    attempt: int | None = Field(default=None, sa_column=integer("attempt"))
