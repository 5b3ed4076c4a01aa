"""The documents mutations' inputs (their payloads are made by graph/mutations.py)."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

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


@strawberry.input(description="The document a mutation is about (deleteDocument, restoreDocument, reprocessDocument).")
class DocumentInput:
    document_id: strawberry.ID
