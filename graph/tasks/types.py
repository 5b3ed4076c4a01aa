"""The Task type: work an MCP agent does for the user, and its connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast

import strawberry

from graph.connection import Connection, HistoryEntry, Listing, history_field
from graph.context import Info
from graph.enums import TaskLogEvent, TaskPriority, TaskStatus
from graph.jsondata import JSON, json_field, json_value
from graph.node import Node, field_columns, load_node, register_node_type
from graph.tasks.inputs import TaskFilterInput, TaskOrder, task_filter
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
class TaskLogEntry(HistoryEntry):
    event: TaskLogEvent
    status: TaskStatus | None = strawberry.field(description="The status the task moved to.")
    attempt: int | None = strawberry.field(description="Which attempt: 1 for the first run.")
    message: str | None = strawberry.field(description="The error, when there was one.")
    duration_ms: int | None
    logged_at: datetime


@strawberry.type(name="Task", description="Work an MCP agent does for the user.")
class TaskNode(Node):
    COLUMNS: ClassVar[dict[str, str]] = field_columns(
        raw_metadata="metadata", raw_input="input_payload", raw_output="output_payload"
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

    @strawberry.field
    def input_payload(self) -> JSON:
        return cast(JSON, json_value(self.raw_input))

    @strawberry.field
    def output_payload(self) -> JSON | None:
        return cast(JSON | None, json_value(self.raw_output))

    metadata = json_field(TaskMetadata, "raw_metadata")

    log: Connection[TaskLogEntry] = history_field(
        TaskLogEntry,
        TASK_LOG_ORDER,
        lambda loaders: loaders.logs_of_task,
        description="What happened to the task, oldest first: moves, failed attempts (kept 90 days).",
    )

    @strawberry.field(description="The chat session the task was run from, if any.")
    async def session(self, info: Info) -> Annotated[ChatSessionNode, strawberry.lazy("graph.chat.types")] | None:
        from graph.chat.types import ChatSessionNode

        return await load_node(ChatSessionNode, info.context.loaders.chat_sessions, self.session_id)

    @strawberry.field(description="The agent that runs the task.")
    async def agent(self, info: Info) -> Annotated[MCPAgentNode, strawberry.lazy("graph.agents.types")] | None:
        from graph.agents.types import MCPAgentNode

        return await load_node(MCPAgentNode, info.context.loaders.agents, self.agent_id)


TASKS = Listing(TaskNode, TaskFilterInput, TaskOrder["STARTED_AT_DESC"], task_filter, TASK_ORDERS, order_required=False)


register_node_type(TaskNode, lambda loaders: loaders.tasks)
