"""Document events on Redis: one channel per user; each event carries the document as stored, less its
text (which can be a megabyte; a subscriber that asks for `contentText` reads it from the table).

Both ends live here, below graph/ and jobs/, so the publisher and `documentUpdated` cannot drift apart."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from models import Document
from models.base import column_values
from models.row_codec import RowCodec
from services import keys
from services.events import EventHub

DOCUMENT_EVENT_KIND = "document"
_ROWS = RowCodec.of(Document.__table__, leave_out=("content_text", "file_path", "search_vector"))  # type: ignore[attr-defined]


document_channel = keys.document_events


def encode_document(document: Document) -> dict[str, Any]:
    return {"kind": DOCUMENT_EVENT_KIND, "document": _ROWS.encode(vars(column_values(document)))}


def decode_document(event: dict[str, Any]) -> SimpleNamespace:
    """The row an event carries, with its column types back (what `DocumentNode.from_row` reads)."""
    return _ROWS.decode(event["document"])


async def publish_document(events: EventHub, document: Document) -> None:
    """Tell the owner's subscribers how the document stands now."""
    await events.publish(document_channel(document.user_id), encode_document(document))
