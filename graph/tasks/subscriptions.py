"""`taskUpdated`: status changes of the viewer's tasks, from the events the use cases and the worker
publish after their commits."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from sqlmodel import col

from graph.context import Info
from graph.errors import RequestErrorCode, request_error
from graph.node import input_id
from graph.tasks.types import TaskNode
from loaders.session import RequestDb
from loaders.tasks import visible_tasks
from models import Task
from resolvers.task_events import decode_task, task_channel
from services.events import StreamInterrupted


@strawberry.type
class TasksSubscription:
    @strawberry.subscription(
        description="Status changes of your tasks: one task, a session's tasks, or (with neither argument) all of them."
    )
    async def task_updated(
        self,
        info: Info,
        task_id: strawberry.ID | None = None,
        chat_session_id: Annotated[strawberry.ID | None, strawberry.argument(name="sessionId")] = None,
    ) -> AsyncGenerator[TaskNode, None]:
        viewer = info.context.viewer
        if viewer is None:
            raise request_error("Sign in first.", RequestErrorCode.UNAUTHENTICATED)
        wanted_task = input_id(task_id, "Task") if task_id is not None else None
        wanted_chat_session = input_id(chat_session_id, "ChatSession") if chat_session_id is not None else None
        if task_id is not None:
            db = RequestDb(info.context.resources.sessions)
            try:
                found = (
                    await db.rows(visible_tasks(viewer.user_id).where(col(Task.id) == wanted_task))
                    if wanted_task
                    else []
                )
            finally:
                await db.close()
            if not found:
                raise request_error("No such task.", RequestErrorCode.NOT_FOUND)
        try:
            async with info.context.resources.events.listen(task_channel(viewer.user_id)) as events:
                async for event in events:
                    row = decode_task(event)
                    if wanted_task is not None and row.id != wanted_task:
                        continue
                    if chat_session_id is not None and row.session_id != wanted_chat_session:
                        continue
                    yield TaskNode.from_row(row)
        except StreamInterrupted as error:
            raise request_error(str(error), RequestErrorCode.UNAVAILABLE) from None
