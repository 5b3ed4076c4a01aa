"""Chat events on Redis: one channel per chat session; each event carries the message as stored.

Both ends live here, below graph/: the use cases publish what `message_event` makes after their commit,
and the subscriptions read it back with `message_row`."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

from models import Message
from models.base import column_values
from resolvers.unit_of_work import UnitOfWork
from services import keys


class MessageEventKind(StrEnum):
    ADDED = "added"
    EDITED = "edited"
    DELETED = "deleted"


# The worker's pieces of a reply being written (jobs/assistant.py), on the same channel: not stored,
# so `messageAdded` (which reads ADDED only) never sees them.
DELTA_KIND = "delta"


def chat_session_channel(session_id: uuid.UUID) -> str:
    return keys.chat_session_events(session_id)


def publish_message(uow: UnitOfWork, kind: MessageEventKind, message: Message) -> None:
    """Tell the chat session's subscribers, once the unit of work committed, what happened to `message`."""
    uow.publish(chat_session_channel(message.session_id), message_event(kind, message))


def message_event(kind: MessageEventKind, message: Message) -> dict[str, Any]:
    row = vars(column_values(message))
    return {"kind": kind.value, "message": {key: _plain(value) for key, value in row.items()}}


def _plain(value: Any) -> Any:
    """Times as ISO-8601 (what `message_row` reads back), ids as text, the rest as stored."""
    return value.isoformat() if isinstance(value, datetime) else str(value) if isinstance(value, uuid.UUID) else value


_DATETIMES = ("timestamp", "edited_at", "deleted_at")
_UUIDS = ("id", "session_id")


def message_row(payload: dict[str, Any]) -> SimpleNamespace:
    """An event's message, shaped like a loader row (what `MessageNode.from_row` reads)."""
    row = dict(payload)
    for key in _DATETIMES:
        if row.get(key) is not None:
            row[key] = datetime.fromisoformat(row[key])
    for key in _UUIDS:
        row[key] = uuid.UUID(row[key])
    return SimpleNamespace(**row)
