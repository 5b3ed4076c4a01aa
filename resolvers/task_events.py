"""Task events on Redis: one channel per user; each event carries the task as stored.

Both ends live here, below graph/ and jobs/: the web process and the worker publish what `encode_task`
makes, and `taskUpdated` reads it back with `decode_task`, so the two cannot drift apart."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from models import Task
from models.base import column_values
from models.row_codec import RowCodec
from resolvers.unit_of_work import UnitOfWork
from services import keys
from services.events import EventHub

TASK_EVENT_KIND = "task"
_ROWS = RowCodec.of(Task.__table__, json_text=("input_payload", "output_payload", "metadata"))  # type: ignore[attr-defined]


task_channel = keys.task_events


def encode_task(task: Task) -> dict[str, Any]:
    """A task as stored, for `taskUpdated` subscribers (plain JSON)."""
    return {"kind": TASK_EVENT_KIND, "task": _ROWS.encode(vars(column_values(task)))}


def decode_task(event: dict[str, Any]) -> SimpleNamespace:
    """The row an event carries, with its column types back (what `TaskNode.from_row` reads)."""
    return _ROWS.decode(event["task"])


async def publish_task(events: EventHub, task: Task) -> None:
    """Tell the owner's subscribers how the task stands now (after the caller's commit)."""
    await events.publish(task_channel(task.user_id), encode_task(task))


def publish_task_after_commit(uow: UnitOfWork, task: Task) -> None:
    """Tell the owner's subscribers, once the unit of work committed, how the task stands."""
    uow.publish(task_channel(task.user_id), encode_task(task))
