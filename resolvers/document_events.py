"""Document events on Redis: one channel per user; each event carries the document as stored
(resolvers/row_events.py), less its text (which can be a megabyte; a subscriber that asks for `contentText`
reads it from the table)."""

from __future__ import annotations

from models import Document
from resolvers.row_events import RowEvents
from services import keys

LEFT_OUT = ("content_text", "file_path", "search_vector")
DOCUMENT_EVENTS = RowEvents.of("document", Document, keys.document_events, leave_out=LEFT_OUT)
