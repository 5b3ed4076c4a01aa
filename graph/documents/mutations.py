"""The documents mutations, each one unit of work (graph/mutations.py); the use cases register what
follows the commit (cache invalidation, the `documentUpdated` event, the processing job)."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry

from graph.context import Info
from graph.documents import inputs as i
from graph.documents.types import DocumentNode
from graph.errors import user_errors
from graph.mutations import mutate
from graph.node import input_id
from graph.permissions import SIGNED_IN
from resolvers import documents
from resolvers.problems import ErrorCode, Problem


def _viewer(info: Info) -> uuid.UUID:
    assert info.context.viewer is not None  # IsAuthenticated ran first
    return info.context.viewer.user_id


def _services(info: Info) -> documents.DocumentServices:
    resources = info.context.resources
    return documents.DocumentServices(
        storage=resources.storage, cache=resources.document_cache, queue=resources.document_queue
    )


def _document(info: Info, value: strawberry.ID) -> uuid.UUID | None:
    return input_id(value, "Document")


def _upload_file(value: Any) -> tuple[Any, str | None] | None:
    """(the file object, the client's filename) of an `Upload` value; None when the value is no file
    (a client sent a string where the multipart map should have put a file)."""
    file = getattr(value, "file", None)
    if file is None or not hasattr(file, "read") or not hasattr(file, "seek"):
        return None
    return file, getattr(value, "filename", None)


@strawberry.type
class DocumentsMutation:
    @strawberry.mutation(
        permission_classes=SIGNED_IN,
        description="Upload a document (GraphQL multipart request; send `Apollo-Require-Preflight: true`).",
    )
    async def upload_document(self, info: Info, input: i.UploadDocumentInput) -> i.UploadDocumentPayload:
        upload = _upload_file(input.file)
        if upload is None:
            problem = Problem("input.file", ErrorCode.REQUIRED, "Send the file as a multipart upload.")
            return i.UploadDocumentPayload(errors=user_errors([problem]))
        request = documents.UploadRequest(
            file=upload[0], filename=upload[1], title=input.title, category=input.category, tags=input.tags
        )
        return await mutate(
            info,
            lambda uow: documents.upload_document(uow, _services(info), _viewer(info), request),
            lambda row: i.UploadDocumentPayload(document=DocumentNode.from_row(row)),
            i.UploadDocumentPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Change a document's title, category or tags.")
    async def update_document(self, info: Info, input: i.UpdateDocumentInput) -> i.UpdateDocumentPayload:
        changes = documents.DocumentChanges(title=input.title, category=input.category, tags=input.tags)
        return await mutate(
            info,
            lambda uow: documents.update_document(
                uow, _services(info), _viewer(info), _document(info, input.document_id), changes
            ),
            lambda row: i.UpdateDocumentPayload(document=DocumentNode.from_row(row)),
            i.UpdateDocumentPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Soft delete, restorable for 30 days.")
    async def delete_document(self, info: Info, input: i.DeleteDocumentInput) -> i.DeleteDocumentPayload:
        return await mutate(
            info,
            lambda uow: documents.delete_document(
                uow, _services(info), _viewer(info), _document(info, input.document_id)
            ),
            lambda row: i.DeleteDocumentPayload(document=DocumentNode.from_row(row)),
            i.DeleteDocumentPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Bring back a document deleted in the last 30 days.")
    async def restore_document(self, info: Info, input: i.RestoreDocumentInput) -> i.RestoreDocumentPayload:
        return await mutate(
            info,
            lambda uow: documents.restore_document(
                uow, _services(info), _viewer(info), _document(info, input.document_id)
            ),
            lambda row: i.RestoreDocumentPayload(document=DocumentNode.from_row(row)),
            i.RestoreDocumentPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Process a completed or failed document again.")
    async def reprocess_document(self, info: Info, input: i.ReprocessDocumentInput) -> i.ReprocessDocumentPayload:
        return await mutate(
            info,
            lambda uow: documents.reprocess_document(
                uow, _services(info), _viewer(info), _document(info, input.document_id)
            ),
            lambda row: i.ReprocessDocumentPayload(document=DocumentNode.from_row(row)),
            i.ReprocessDocumentPayload,
        )
