"""Task events on Redis: one channel per user; each event carries the task as stored.

Both ends live here, below graph/ and jobs/: the web process and the worker publish what `encode_task`
makes, and `taskUpdated` reads it back with `decode_task`, so the two cannot drift apart."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from models import Task
from models.base import column_values
from resolvers.unit_of_work import UnitOfWork
from services import keys
from services.events import EventHub

TASK_EVENT_KIND = "task"
_UUIDS = ("id", "user_id", "agent_id", "session_id")
_DATETIMES = ("started_at", "completed_at", "run_started_at")
_JSON = ("input_payload", "output_payload", "metadata")


task_channel = keys.task_events


def encode_task(task: Task) -> dict[str, Any]:
    """A task as stored, for `taskUpdated` subscribers (plain JSON)."""
    row = vars(column_values(task))
    return {"kind": TASK_EVENT_KIND, "task": json.loads(json.dumps(row, default=str))}


def decode_task(event: dict[str, Any]) -> SimpleNamespace:
    """The row an event carries, with its column types back (what `TaskNode.from_row` reads)."""
    row = dict(event["task"])
    for key in _UUIDS:
        if row.get(key):
            row[key] = uuid.UUID(row[key])
    for key in _DATETIMES:
        if row.get(key):
            row[key] = datetime.fromisoformat(row[key])
    for key in _JSON:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return SimpleNamespace(**row)


async def publish_task(events: EventHub, task: Task) -> None:
    """Tell the owner's subscribers how the task stands now (after the caller's commit)."""
    await events.publish(task_channel(task.user_id), encode_task(task))


def publish_task_after_commit(uow: UnitOfWork, task: Task) -> None:
    """Tell the owner's subscribers, once the unit of work committed, how the task stands."""
    uow.publish(task_channel(task.user_id), encode_task(task))
