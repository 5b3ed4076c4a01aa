"""Document events on Redis: one channel per user; each event carries the document as stored, less its
text (which can be a megabyte; a subscriber that asks for `contentText` reads it from the table).

Both ends live here, below graph/ and jobs/, so the publisher and `documentUpdated` cannot drift apart."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from models import Document
from models.base import column_values
from services import keys
from services.events import EventHub

DOCUMENT_EVENT_KIND = "document"
_LEFT_OUT = ("content_text", "file_path", "search_vector")
_DATETIMES = ("uploaded_at", "processed_at", "deleted_at")


document_channel = keys.document_events


def encode_document(document: Document) -> dict[str, Any]:
    row = {key: value for key, value in vars(column_values(document)).items() if key not in _LEFT_OUT}
    return {"kind": DOCUMENT_EVENT_KIND, "document": json.loads(json.dumps(row, default=str))}


def decode_document(event: dict[str, Any]) -> SimpleNamespace:
    """The row an event carries, with its column types back (what `DocumentNode.from_row` reads)."""
    row = dict(event["document"])
    row["id"] = uuid.UUID(row["id"])
    row["user_id"] = uuid.UUID(row["user_id"])
    for key in _DATETIMES:
        if row.get(key):
            row[key] = datetime.fromisoformat(row[key])
    return SimpleNamespace(**row)


async def publish_document(events: EventHub, document: Document) -> None:
    """Tell the owner's subscribers how the document stands now."""
    await events.publish(document_channel(document.user_id), encode_document(document))
