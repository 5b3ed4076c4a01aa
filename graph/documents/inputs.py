"""The documents mutations' inputs and payloads."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from graph.documents.types import DocumentNode
from graph.errors import UserError
from graph.input_limits import NAME, TITLE, limited

TAG = 50


@strawberry.input(description="A file sent by the GraphQL multipart request spec, and how to file it.")
class UploadDocumentInput:
    file: Upload = strawberry.field(
        description="PDF, DOC, DOCX or TXT, at most 10 MiB; the type is read from the content."
    )
    title: str | None = limited(TITLE, default=None)
    category: str | None = limited(NAME, default=None)
    tags: list[str] | None = limited(
        TAG, default=None, description="At most 10; trimmed, lower-cased, de-duplicated, 1-50 characters each."
    )


@strawberry.input(description="Leave a field out to keep it; an empty title or category clears it.")
class UpdateDocumentInput:
    document_id: strawberry.ID
    title: str | None = limited(TITLE, default=None)
    category: str | None = limited(NAME, default=None)
    tags: list[str] | None = limited(TAG, default=None, description="Replaces the tags; [] removes them all.")


@strawberry.input
class DeleteDocumentInput:
    document_id: strawberry.ID


@strawberry.input
class RestoreDocumentInput:
    document_id: strawberry.ID


@strawberry.input
class ReprocessDocumentInput:
    document_id: strawberry.ID


@strawberry.type
class DocumentPayload:
    document: DocumentNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UploadDocumentPayload(DocumentPayload):
    """Answer of `uploadDocument`: the document, PENDING, queued for processing."""


@strawberry.type
class UpdateDocumentPayload(DocumentPayload):
    """Answer of `updateDocument`."""


@strawberry.type
class DeleteDocumentPayload(DocumentPayload):
    """Answer of `deleteDocument`: the document, with `deletedAt` set."""


@strawberry.type
class RestoreDocumentPayload(DocumentPayload):
    """Answer of `restoreDocument`."""


@strawberry.type
class ReprocessDocumentPayload(DocumentPayload):
    """Answer of `reprocessDocument`: the document, PENDING again, queued."""
