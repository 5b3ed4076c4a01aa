"""`documentUpdated`: every change of the viewer's documents (or of one), as its owner's channel
carries it."""

from __future__ import annotations

import strawberry

from graph.documents.types import DocumentNode
from graph.streams import updates_field
from loaders.documents import visible_documents
from resolvers.document_events import DOCUMENT_EVENTS


@strawberry.type
class DocumentsSubscription:
    document_updated = updates_field(
        DocumentNode,
        "document_id",
        visible_documents,
        DOCUMENT_EVENTS,
        description="Changes of your documents (processing progress, edits, deletes): one, or all of them.",
    )
