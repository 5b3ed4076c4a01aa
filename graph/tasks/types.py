"""The Task type: work an MCP agent does for the user, and its connection."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from graph.connection import Listing, connection_field
from graph.context import Info
from graph.enums import TaskPriority, TaskStatus
from graph.jsondata import JSON, from_json, json_value
from graph.node import Node, build, columns, register_node
from graph.tasks.inputs import TaskFilterInput, TaskOrder, task_filter
from loaders import Loaders
from loaders.base import ConnectionLoaders
from loaders.tasks import TASK_ORDERS

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


@strawberry.type(name="Task", description="Work an MCP agent does for the user.")
class TaskNode(Node):
    COLUMNS: ClassVar[dict[str, str]] = columns(
        "task_type",
        "status",
        "error_message",
        "started_at",
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
    started_at: datetime
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
