"""Running tasks: `runTask`, `cancelTask`, `retryTask`, and the `taskUpdated` subscription."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from graphql import GraphQLError

from graph.context import Info
from graph.errors import RequestErrorCode, UserError, request_error
from graph.input_limits import NAME, limited
from graph.jsondata import JSON
from graph.mutations import mutate
from graph.node import input_id
from graph.permissions import IsAuthenticated
from graph.tasks import TaskNode, TaskPriorityEnum
from loaders.session import RequestDb
from loaders.tasks import visible_tasks
from models import Task
from models.tasks import TaskPriority
from resolvers import tasks
from resolvers.task_events import decode_task, task_channel
from services.events import StreamInterrupted

SIGNED_IN = [IsAuthenticated]


@strawberry.input
class RunTaskInput:
    agent_id: strawberry.ID
    task_type: str = limited(NAME, description="One of the agent's tools (its capabilities' names).")
    input: JSON = strawberry.field(description="The tool's arguments; checked against its inputSchema.")
    session_id: strawberry.ID | None = None
    priority: TaskPriorityEnum = TaskPriority.MEDIUM
    scheduled_for: datetime | None = strawberry.field(default=None, description="Not before this time.")
    dependencies: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Tasks that must complete first (a failed one fails this task)."
    )
    notify_on_complete: bool = False


@strawberry.input
class CancelTaskInput:
    task_id: strawberry.ID


@strawberry.input
class RetryTaskInput:
    task_id: strawberry.ID


@strawberry.type
class TaskPayload:
    task: TaskNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RunTaskPayload(TaskPayload):
    """Answer of `runTask`: the task, `PENDING`, queued."""


@strawberry.type
class CancelTaskPayload(TaskPayload):
    """Answer of `cancelTask`."""


@strawberry.type
class RetryTaskPayload(TaskPayload):
    """Answer of `retryTask`."""


def _viewer(info: Info) -> uuid.UUID:
    assert info.context.viewer is not None  # IsAuthenticated ran first
    return info.context.viewer.user_id


@strawberry.type
class TasksMutation:
    @strawberry.mutation(permission_classes=SIGNED_IN, description="Run one of an agent's tools as a task.")
    async def run_task(self, info: Info, input: RunTaskInput) -> RunTaskPayload:
        request = tasks.TaskRequest(
            agent_id=input_id(input.agent_id, "MCPAgent"),
            task_type=input.task_type,
            input=input.input,
            session_id=input_id(input.session_id, "ChatSession"),
            session_given=input.session_id is not None,
            priority=TaskPriority(input.priority.value),
            scheduled_for=input.scheduled_for,
            dependencies=tuple(input_id(value, "Task") for value in input.dependencies or []),
            notify_on_complete=input.notify_on_complete,
        )
        return await mutate(
            info,
            lambda uow: tasks.create_task(uow, info.context.redis, _viewer(info), request),
            lambda row: RunTaskPayload(task=TaskNode.from_row(row)),
            RunTaskPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Stop a pending or running task.")
    async def cancel_task(self, info: Info, input: CancelTaskInput) -> CancelTaskPayload:
        return await mutate(
            info,
            lambda uow: tasks.cancel_task(uow, _viewer(info), input_id(input.task_id, "Task")),
            lambda row: CancelTaskPayload(task=TaskNode.from_row(row)),
            CancelTaskPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Run a failed task again.")
    async def retry_task(self, info: Info, input: RetryTaskInput) -> RetryTaskPayload:
        return await mutate(
            info,
            lambda uow: tasks.retry_task(uow, _viewer(info), input_id(input.task_id, "Task")),
            lambda row: RetryTaskPayload(task=TaskNode.from_row(row)),
            RetryTaskPayload,
        )


@strawberry.type
class TasksSubscription:
    @strawberry.subscription(
        description="Status changes of your tasks: one task, a session's tasks, or (with neither argument) all of them."
    )
    async def task_updated(
        self, info: Info, task_id: strawberry.ID | None = None, session_id: strawberry.ID | None = None
    ) -> AsyncGenerator[TaskNode, None]:
        viewer = info.context.viewer
        if viewer is None:
            raise request_error("Sign in first.", RequestErrorCode.UNAUTHENTICATED)
        wanted_task = input_id(task_id, "Task") if task_id is not None else None
        wanted_session = input_id(session_id, "ChatSession") if session_id is not None else None
        if task_id is not None:
            db = RequestDb(info.context.resources.sessions)
            try:
                found = (
                    await db.rows(visible_tasks(viewer.user_id).where(Task.id == wanted_task)) if wanted_task else []
                )
            finally:
                await db.close()
            if not found:
                raise GraphQLError("No such task.", extensions={"code": "NOT_FOUND"})
        try:
            async with info.context.resources.events.listen(task_channel(viewer.user_id)) as events:
                async for event in events:
                    row = decode_task(event)
                    if wanted_task is not None and row.id != wanted_task:
                        continue
                    if session_id is not None and row.session_id != wanted_session:
                        continue
                    yield TaskNode.from_row(row)
        except StreamInterrupted as error:
            raise GraphQLError(str(error), extensions={"code": "UNAVAILABLE"}) from None
