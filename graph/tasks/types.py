"""The Task type: work an MCP agent does for the user, and its connection."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from graph.connection import Connection, Listing, connection_field, load_connection, page_request
from graph.context import Info
from graph.enums import TaskLogEvent, TaskPriority, TaskStatus
from graph.jsondata import JSON, from_json, json_value
from graph.node import Node, build, columns, register_node
from graph.tasks.inputs import TaskFilterInput, TaskOrder, task_filter
from loaders import Loaders
from loaders.base import ConnectionLoaders
from loaders.tasks import TASK_LOG_ORDER, TASK_ORDERS

if TYPE_CHECKING:
    from graph.agents.types import MCPAgentNode
    from graph.chat.types import ChatSessionNode


@strawberry.type
class TaskMetadata:
    priority: TaskPriority | None = None
    scheduled_for: datetime | None = None
    dependencies: list[str] = strawberry.field(default_factory=list)
    user_visible: bool | None = None
    notify_on_complete: bool | None = None


@strawberry.type(description="One line of a task's log: a move of its lifecycle or a failed attempt.")
class TaskLogEntry:
    event: TaskLogEvent
    status: TaskStatus | None = strawberry.field(description="The status the task moved to.")
    attempt: int | None = strawberry.field(description="Which attempt: 1 for the first run.")
    message: str | None = strawberry.field(description="The error, when there was one.")
    duration_ms: int | None
    logged_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> TaskLogEntry:
        return cls(
            event=TaskLogEvent(row.event),
            status=TaskStatus(row.status) if row.status else None,
            attempt=row.attempt,
            message=row.message,
            duration_ms=row.duration_ms,
            logged_at=row.logged_at,
        )


@strawberry.type(name="Task", description="Work an MCP agent does for the user.")
class TaskNode(Node):
    COLUMNS: ClassVar[dict[str, str]] = columns(
        "task_type",
        "status",
        "error_message",
        "started_at",
        "run_started_at",
        "completed_at",
        "processing_time_ms",
        "retry_count",
        "session_id",
        "agent_id",
        raw_metadata="metadata",
        raw_input="input_payload",
        raw_output="output_payload",
    )
    pk: strawberry.Private[uuid.UUID]
    session_id: strawberry.Private[uuid.UUID | None]
    agent_id: strawberry.Private[uuid.UUID]
    raw_metadata: strawberry.Private[dict[str, Any] | None]
    raw_input: strawberry.Private[Any]
    raw_output: strawberry.Private[Any]
    task_type: str
    status: TaskStatus
    error_message: str | None
    started_at: datetime = strawberry.field(description="When the task was asked for.")
    run_started_at: datetime | None = strawberry.field(
        description="When its current run started (null while it waits); `processingTimeMs` is that run's."
    )
    completed_at: datetime | None
    processing_time_ms: int | None
    retry_count: int

    @classmethod
    def from_row(cls, row: Any) -> TaskNode:
        return build(cls, "Task", row)

    @strawberry.field
    def input_payload(self) -> JSON:
        return json_value(self.raw_input)

    @strawberry.field
    def output_payload(self) -> JSON | None:
        return json_value(self.raw_output)

    @strawberry.field
    def metadata(self) -> TaskMetadata:
        return from_json(TaskMetadata, self.raw_metadata)

    @strawberry.field(description="What happened to the task, oldest first: moves, failed attempts (kept 90 days).")
    async def log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[TaskLogEntry]:
        request = page_request(TASK_LOG_ORDER, first=first, after=after, last=last, before=before)
        return await load_connection(info.context.loaders.logs_of_task, self.pk, request, TaskLogEntry.from_row)

    @strawberry.field(description="The chat session the task was run from, if any.")
    async def session(self, info: Info) -> Annotated[ChatSessionNode, strawberry.lazy("graph.chat.types")] | None:
        from graph.chat.types import ChatSessionNode

        if self.session_id is None:
            return None
        row = await info.context.loaders.chat_sessions.load(self.session_id)
        return ChatSessionNode.from_row(row) if row is not None else None

    @strawberry.field(description="The agent that runs the task.")
    async def agent(self, info: Info) -> Annotated[MCPAgentNode, strawberry.lazy("graph.agents.types")] | None:
        from graph.agents.types import MCPAgentNode

        row = await info.context.loaders.agents.load(self.agent_id)
        return MCPAgentNode.from_row(row) if row is not None else None


TASKS = Listing(
    node=TaskNode,
    filter_input=TaskFilterInput,
    to_filter=task_filter,
    order=TaskOrder,
    default_order=TaskOrder.STARTED_AT_DESC,
    orders=TASK_ORDERS,
    order_required=False,
)


def tasks_field(loaders: Callable[[Loaders], ConnectionLoaders], description: str) -> Any:
    """A parent's `tasks` connection (the viewer's, a chat session's, an agent's)."""
    return connection_field(TASKS, TASKS.builder(loaders), description=description)


async def _fetch_tasks(info: Info, pks: list[uuid.UUID]) -> list[TaskNode | None]:
    rows = await info.context.loaders.tasks.load_many(pks)
    return [TaskNode.from_row(row) if row is not None else None for row in rows]


register_node("Task", _fetch_tasks)
