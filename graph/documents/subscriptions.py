"""`documentUpdated`: every change of the viewer's documents (or of one), as its owner's channel
carries it."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError
from sqlmodel import col

from graph.context import Info
from graph.documents.types import DocumentNode
from graph.errors import RequestErrorCode, request_error
from graph.node import input_id
from graph.shared_results import derived, shared_payload
from loaders.documents import visible_documents
from loaders.session import RequestDb
from models import Document
from resolvers.document_events import decode_document, document_channel
from services.events import StreamInterrupted


@strawberry.type
class DocumentsSubscription:
    @strawberry.subscription(
        description="Changes of your documents (processing progress, edits, deletes): one, or all of them."
    )
    async def document_updated(
        self, info: Info, document_id: strawberry.ID | None = None
    ) -> AsyncGenerator[DocumentNode, None]:
        viewer = info.context.viewer
        if viewer is None:
            raise request_error("Sign in first.", RequestErrorCode.UNAUTHENTICATED)
        wanted = input_id(document_id, "Document") if document_id is not None else None
        if document_id is not None:
            db = RequestDb(info.context.resources.sessionmaker)
            try:
                found = (
                    await db.rows(visible_documents(viewer.user_id).where(col(Document.id) == wanted)) if wanted else []
                )
            finally:
                await db.close()
            if not found:
                raise GraphQLError("No such document.", extensions={"code": "NOT_FOUND"})
        try:
            async with info.context.resources.events.listen(document_channel(viewer.user_id)) as events:
                async for event in events:
                    row = derived(event, "row", decode_document, event)
                    if wanted is not None and row.id != wanted:
                        continue
                    yield shared_payload(event, "node", DocumentNode.from_row, row)
        except StreamInterrupted as error:
            raise GraphQLError(str(error), extensions={"code": "UNAVAILABLE"}) from None
