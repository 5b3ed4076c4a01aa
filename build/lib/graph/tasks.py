"""Tasks run by MCP agents."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from graph.connection import Connection, load_connection, page_request
from graph.context import Info
from graph.input_limits import NAME, limited
from graph.jsondata import JSON, from_json, json_value
from graph.node import Node, build, columns, expect_id, register_node
from loaders.base import ConnectionLoaders
from loaders.tasks import TASK_ORDERS, TaskFilter
from models.tasks import TaskPriority, TaskStatus

if TYPE_CHECKING:
    from graph.agents import MCPAgentNode
    from graph.chat.types import ChatSessionNode

TaskStatusEnum = strawberry.enum(TaskStatus, name="TaskStatus")
TaskPriorityEnum = strawberry.enum(TaskPriority, name="TaskPriority")


@strawberry.type
class TaskMetadata:
    priority: TaskPriorityEnum | None = None
    scheduled_for: datetime | None = None
    dependencies: list[str] = strawberry.field(default_factory=list)
    user_visible: bool | None = None
    notify_on_complete: bool | None = None


@strawberry.enum
class TaskOrder(Enum):
    STARTED_AT_DESC = "STARTED_AT_DESC"
    STARTED_AT_ASC = "STARTED_AT_ASC"


@strawberry.input(name="TaskFilter")
class TaskFilterInput:
    status: list[TaskStatusEnum] | None = None
    agent_id: list[strawberry.ID] | None = None
    task_type: list[str] | None = limited(NAME, default=None)


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
    status: TaskStatusEnum
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
    async def agent(self, info: Info) -> Annotated[MCPAgentNode, strawberry.lazy("graph.agents")] | None:
        from graph.agents import MCPAgentNode

        row = await info.context.loaders.agents.load(self.agent_id)
        return MCPAgentNode.from_row(row) if row is not None else None


def task_filter(filter: TaskFilterInput | None) -> TaskFilter:
    if filter is None:
        return TaskFilter()
    agent_ids = tuple(
        sorted(
            pk
            for pk in (expect_id(value, "MCPAgent", field="filter.agentId") for value in filter.agent_id or [])
            if pk is not None
        )
    )
    if filter.agent_id and not agent_ids:
        agent_ids = (uuid.UUID(int=0),)  # only unknown agents asked for: nothing matches
    return TaskFilter(
        statuses=tuple(sorted({TaskStatus(status.value) for status in filter.status or []})),
        agent_ids=agent_ids,
        task_types=tuple(sorted(set(filter.task_type or []))),
    )


async def task_connection(
    info: Info,
    loaders: ConnectionLoaders,
    parent_id: uuid.UUID,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: TaskFilterInput | None,
    order_by: TaskOrder | None,
) -> Connection[TaskNode]:
    order = TASK_ORDERS[(order_by or TaskOrder.STARTED_AT_DESC).value]
    request = page_request(order, first=first, after=after, last=last, before=before, filters=task_filter(filter))
    return await load_connection(loaders, parent_id, request, TaskNode.from_row)


async def _fetch_tasks(info: Info, pks: list[uuid.UUID]) -> list[TaskNode | None]:
    rows = await info.context.loaders.tasks.load_many(pks)
    return [TaskNode.from_row(row) if row is not None else None for row in rows]


register_node("Task", _fetch_tasks)
