"""`documentUpdated`: every change of the viewer's documents (or of one), as its owner's channel
carries it."""

from __future__ import annotations

import strawberry
from sqlmodel import col

from graph.documents.types import DocumentNode
from graph.streams import updates_field
from loaders.documents import visible_documents
from models import Document
from resolvers.document_events import decode_document, document_channel


@strawberry.type
class DocumentsSubscription:
    document_updated = updates_field(
        DocumentNode,
        "document_id",
        lambda viewer_id, pk: visible_documents(viewer_id).where(col(Document.id) == pk),
        document_channel,
        decode_document,
        description="Changes of your documents (processing progress, edits, deletes): one, or all of them.",
    )
