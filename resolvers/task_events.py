"""Task events on Redis: one channel per user; each event carries the task as stored (resolvers/row_events.py).

The web process and the worker publish what `TASK_EVENTS.encode` makes, and `taskUpdated` reads it back with
`decode_task`."""

from __future__ import annotations

from models import Task
from resolvers.row_events import RowEvents
from services import keys

TASK_EVENTS = RowEvents.of("task", Task, keys.task_events, json_text=("input_payload", "output_payload", "metadata"))

task_channel = TASK_EVENTS.channel
decode_task = TASK_EVENTS.decode
