"""`notifyOnComplete`: when a task that asked for it ends (completed or failed), the user is told on two paths,
both after the commit that ended it: an event on their notification channel (the `notifications` subscription),
and, when the task was run from a chat session that still takes messages, a SYSTEM message there, which stays
in the conversation for a client that was not listening."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from models import Task
from models.tasks import TaskMeta, TaskStatus
from resolvers.chat import post_system_message
from resolvers.unit_of_work import UnitOfWork
from services import keys

NOTICE_ERROR_MAX = 500


class NoticeKind(StrEnum):
    TASK_COMPLETED = "task_completed"
    TASK_FAILED = "task_failed"


def asks_notice(task: Task) -> bool:
    """Whether the task was run with `notifyOnComplete` (set when it was asked for, never changed)."""
    try:
        return TaskMeta.parse_only(task.meta, "notifyOnComplete").notify_on_complete
    except ValueError:
        return False


def notice_text(task: Task) -> str:
    if task.status == TaskStatus.COMPLETED:
        return f"Task {task.task_type!r} completed."
    reason = (task.error_message or "no reason given")[:NOTICE_ERROR_MAX]
    return f"Task {task.task_type!r} failed: {reason}"


async def notify_if_asked(uow: UnitOfWork, task: Task) -> None:
    """Called in the unit of work that ended the task; what it writes and publishes follows that commit."""
    if task.status not in (TaskStatus.COMPLETED, TaskStatus.FAILED) or not asks_notice(task):
        return
    text = notice_text(task)
    message = (
        await post_system_message(uow, task.user_id, task.session_id, text, {"taskId": str(task.id)})
        if task.session_id is not None
        else None
    )
    kind = NoticeKind.TASK_COMPLETED if task.status == TaskStatus.COMPLETED else NoticeKind.TASK_FAILED
    event: dict[str, Any] = {
        "kind": kind.value,
        "text": text,
        "task_id": str(task.id),
        "message_id": str(message.id) if message is not None else None,
        "at": datetime.now(UTC).isoformat(),
    }
    uow.publish(keys.notifications(task.user_id), event)
