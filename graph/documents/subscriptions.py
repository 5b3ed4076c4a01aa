"""`documentUpdated`: every change of the viewer's documents (or of one), as its owner's channel
carries it."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from sqlmodel import col

from graph.context import Info
from graph.documents.types import DocumentNode
from graph.shared_results import derived, shared_payload
from graph.streams import listening, signed_in, watched
from loaders.documents import visible_documents
from models import Document
from resolvers.document_events import decode_document, document_channel


@strawberry.type
class DocumentsSubscription:
    @strawberry.subscription(
        description="Changes of your documents (processing progress, edits, deletes): one, or all of them."
    )
    async def document_updated(
        self, info: Info, document_id: strawberry.ID | None = None
    ) -> AsyncGenerator[DocumentNode, None]:
        viewer_id = signed_in(info)
        wanted = await watched(
            info, document_id, "Document", lambda pk: visible_documents(viewer_id).where(col(Document.id) == pk)
        )
        async with listening(info, document_channel(viewer_id)) as events:
            async for event in events:
                row = derived(event, "row", decode_document, event)
                if wanted is None or row.id == wanted:
                    yield shared_payload(event, "node", DocumentNode.from_row, row)
