"""`taskUpdated`: status changes of the viewer's tasks, from the events the use cases and the worker
publish after their commits. With a `taskId` it first answers how the task stands, so a client that subscribes
late still sees a task that finished before it came."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlmodel import col

from graph.context import Info
from graph.errors import RequestErrorCode, request_error
from graph.node import global_id, input_id
from graph.shared_results import derived, shared_payload
from graph.streams import listening, read, signed_in
from graph.tasks.types import TaskNode
from loaders.tasks import visible_tasks
from models import Task
from models.tasks import TaskMeta
from resolvers.task_events import decode_task, task_channel
from resolvers.task_notices import NoticeKind
from services import keys

strawberry.enum(NoticeKind, name="NotificationKind")


@strawberry.type(description="Something the gateway tells you of its own accord.")
class Notification:
    kind: NoticeKind
    text: str
    at: datetime
    task: TaskNode | None = strawberry.field(description="The task it is about, as it stands now.")
    message_id: strawberry.ID | None = strawberry.field(
        description="The SYSTEM message that records it in the task's chat session, when there is one."
    )


@strawberry.type
class TasksSubscription:
    @strawberry.subscription(
        description="Your notifications: tasks run with notifyOnComplete that completed or failed."
    )
    async def notifications(self, info: Info) -> AsyncGenerator[Notification, None]:
        viewer_id = signed_in(info)
        async with listening(info, keys.notifications(viewer_id)) as events:
            async for event in events:
                task = await _current(info, viewer_id, uuid.UUID(event["task_id"]))
                message_id = event.get("message_id")
                yield Notification(
                    kind=NoticeKind(event["kind"]),
                    text=str(event["text"]),
                    at=datetime.fromisoformat(event["at"]),
                    task=TaskNode.from_row(task) if task is not None else None,
                    message_id=strawberry.ID(global_id("Message", uuid.UUID(message_id))) if message_id else None,
                )

    @strawberry.subscription(
        description="Status changes of your tasks: one task, a session's tasks, or (with neither argument) all of them."
    )
    async def task_updated(
        self,
        info: Info,
        task_id: strawberry.ID | None = None,
        chat_session_id: Annotated[strawberry.ID | None, strawberry.argument(name="sessionId")] = None,
    ) -> AsyncGenerator[TaskNode, None]:
        viewer_id = signed_in(info)
        wanted_task = input_id(task_id, "Task") if task_id is not None else None
        wanted_chat_session = input_id(chat_session_id, "ChatSession") if chat_session_id is not None else None
        if task_id is not None and wanted_task is None:
            raise request_error("No such task.", RequestErrorCode.NOT_FOUND)
        async with listening(info, task_channel(viewer_id)) as events:
            if wanted_task is not None:
                # Listening first, then the current state: a move made in between is in both, never in
                # neither. From here on the table, not the event, says how the task stands, so an event
                # from before the read never takes a client back to an older state.
                current = await _current(info, viewer_id, wanted_task)
                if current is None:
                    raise request_error("No such task.", RequestErrorCode.NOT_FOUND)
                sent = _state(current)
                yield TaskNode.from_row(current)
            async for event in events:
                row = derived(event, "row", decode_task, event)
                if wanted_task is not None:
                    if row.id != wanted_task:
                        continue
                    current = await _current(info, viewer_id, wanted_task)
                    if current is None or _state(current) == sent:
                        continue
                    sent = _state(current)
                    yield TaskNode.from_row(current)
                    continue
                if chat_session_id is not None and row.session_id != wanted_chat_session:
                    continue
                if not _user_visible(row):
                    continue  # hidden from the user's lists, and so from the stream of all their tasks
                yield shared_payload(event, "node", TaskNode.from_row, row)


async def _current(info: Info, viewer_id: uuid.UUID, task_id: uuid.UUID) -> Any:
    """The task as stored now."""
    found = await read(info, visible_tasks(viewer_id).where(col(Task.id) == task_id))
    return found[0] if found else None


def _user_visible(row: Any) -> bool:
    try:
        return TaskMeta.parse_only(getattr(row, "metadata", None), "userVisible").user_visible
    except ValueError:
        return True


def _state(row: Any) -> tuple[Any, ...]:
    return (row.status, row.retry_count, row.run_started_at, row.completed_at, row.error_message)
