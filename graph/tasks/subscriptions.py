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

from graph.context import Context, Info
from graph.errors import RequestErrorCode, request_error
from graph.live import Handover
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
            yield Handover(events, _Notifications(info.context, viewer_id).step)  # type: ignore[misc]

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
            if wanted_task is None:
                step = _SomeTasks(chat_session_id is not None, wanted_chat_session).step
            else:
                # Listening first, then the current state: a move made in between is in both, never in
                # neither. From here on the table, not the event, says how the task stands, so an event
                # from before the read never takes a client back to an older state.
                current = await _current(info.context, viewer_id, wanted_task)
                if current is None:
                    raise request_error("No such task.", RequestErrorCode.NOT_FOUND)
                yield TaskNode.from_row(current)
                step = _OneTask(info.context, viewer_id, wanted_task, _state(current)).step
            yield Handover(events, step)  # type: ignore[misc]


class _Notifications:
    __slots__ = ("context", "viewer_id")

    def __init__(self, context: Context, viewer_id: uuid.UUID) -> None:
        self.context, self.viewer_id = context, viewer_id

    async def step(self, event: dict[str, Any]) -> list[Notification]:
        task = await _current(self.context, self.viewer_id, uuid.UUID(event["task_id"]))
        message_id = event.get("message_id")
        return [
            Notification(
                kind=NoticeKind(event["kind"]),
                text=str(event["text"]),
                at=datetime.fromisoformat(event["at"]),
                task=TaskNode.from_row(task) if task is not None else None,
                message_id=strawberry.ID(global_id("Message", uuid.UUID(message_id))) if message_id else None,
            )
        ]


class _OneTask:
    """`taskUpdated(taskId:)` once live: the task as stored, each time its state moved."""

    __slots__ = ("context", "sent", "task_id", "viewer_id")

    def __init__(self, context: Context, viewer_id: uuid.UUID, task_id: uuid.UUID, sent: tuple[Any, ...]) -> None:
        self.context, self.viewer_id, self.task_id, self.sent = context, viewer_id, task_id, sent

    async def step(self, event: dict[str, Any]) -> list[TaskNode]:
        row = derived(event, "row", decode_task, event)
        if row.id != self.task_id:
            return []
        current = await _current(self.context, self.viewer_id, self.task_id)
        if current is None or _state(current) == self.sent:
            return []
        self.sent = _state(current)
        return [TaskNode.from_row(current)]


class _SomeTasks:
    """`taskUpdated` of all the viewer's tasks, or of one session's."""

    __slots__ = ("by_session", "chat_session_id")

    def __init__(self, by_session: bool, chat_session_id: uuid.UUID | None) -> None:
        self.by_session, self.chat_session_id = by_session, chat_session_id

    async def step(self, event: dict[str, Any]) -> list[TaskNode]:
        row = derived(event, "row", decode_task, event)
        if self.by_session and row.session_id != self.chat_session_id:
            return []
        if not _user_visible(row):
            return []  # hidden from the user's lists, and so from the stream of all their tasks
        return [shared_payload(event, "node", TaskNode.from_row, row)]


async def _current(context: Context, viewer_id: uuid.UUID, task_id: uuid.UUID) -> Any:
    """The task as stored now."""
    found = await read(context, visible_tasks(viewer_id).where(col(Task.id) == task_id))
    return found[0] if found else None


def _user_visible(row: Any) -> bool:
    try:
        return TaskMeta.parse_only(getattr(row, "metadata", None), "userVisible").user_visible
    except ValueError:
        return True


def _state(row: Any) -> tuple[Any, ...]:
    return (row.status, row.retry_count, row.run_started_at, row.completed_at, row.error_message)
