"""Task inputs: the list's filter and order, and the mutations' inputs."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from graph.connection import order_enum
from graph.enums import TaskPriority, TaskStatus
from graph.input_limits import NAME, limited
from graph.jsondata import JSON
from graph.node import expect_id
from loaders.tasks import TASK_ORDERS, TaskFilter

TaskOrder = order_enum("TaskOrder", TASK_ORDERS)


@strawberry.input(name="TaskFilter")
class TaskFilterInput:
    status: list[TaskStatus] | None = None
    agent_id: list[strawberry.ID] | None = None
    task_type: list[str] | None = limited(NAME, default=None)


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
        statuses=tuple(sorted(set(filter.status or []))),
        agent_ids=agent_ids,
        task_types=tuple(sorted(set(filter.task_type or []))),
    )


@strawberry.input
class RunTaskInput:
    agent_id: strawberry.ID
    task_type: str = limited(NAME, description="One of the agent's tools (its capabilities' names).")
    input: JSON = strawberry.field(description="The tool's arguments; checked against its inputSchema.")
    chat_session_id: strawberry.ID | None = strawberry.field(default=None, name="sessionId")
    priority: TaskPriority = TaskPriority.MEDIUM
    scheduled_for: datetime | None = strawberry.field(default=None, description="Not before this time.")
    dependencies: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Tasks that must complete first (a failed one fails this task)."
    )
    notify_on_complete: bool = False
    integration_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Your integrations the tool may act through: fresh access tokens reach the tool in the "
        "call's `_meta.integrations.<provider>`, never in the stored input or output.",
    )


@strawberry.input
class TaskIdInput:
    task_id: strawberry.ID
