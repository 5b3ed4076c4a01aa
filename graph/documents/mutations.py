"""The documents mutations. Each commits, then (after the commit) invalidates the cached metadata,
publishes the document to its owner's `documentUpdated` subscribers and, for a new or reprocessed
document, queues its processing."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import strawberry

from graph.context import Info
from graph.documents import inputs as i
from graph.documents.types import DocumentNode
from graph.errors import user_errors
from graph.mutations import in_transaction, transactions
from graph.node import input_id
from graph.permissions import IsAuthenticated
from models import Document
from resolvers import documents
from resolvers.document_events import publish_document
from resolvers.problems import ErrorCode, Problem, Rejected

log = logging.getLogger("gateway.documents")
SIGNED_IN = [IsAuthenticated]


def _viewer(info: Info) -> uuid.UUID:
    assert info.context.viewer is not None  # IsAuthenticated ran first
    return info.context.viewer.user_id


async def _after_commit(info: Info, document: Document, *, enqueue: bool) -> None:
    resources = info.context.resources
    await resources.document_cache.invalidate(document.id)
    await publish_document(resources.events, document)
    if enqueue and not await resources.document_queue.enqueue(document.id):
        log.warning("document %s could not be queued (Redis unreachable)", document.id)


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
        try:
            document = await documents.upload_document(
                transactions(info), info.context.resources.storage, _viewer(info), request
            )
        except Rejected as rejected:
            return i.UploadDocumentPayload(errors=user_errors(rejected.problems))
        await _after_commit(info, document, enqueue=True)
        return i.UploadDocumentPayload(document=DocumentNode.from_row(document))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Change a document's title, category or tags.")
    async def update_document(self, info: Info, input: i.UpdateDocumentInput) -> i.UpdateDocumentPayload:
        changes = documents.DocumentChanges(title=input.title, category=input.category, tags=input.tags)
        try:
            document = await in_transaction(
                info,
                lambda db: documents.update_document(
                    db, _viewer(info), input_id(input.document_id, "Document"), changes
                ),
            )
        except Rejected as rejected:
            return i.UpdateDocumentPayload(errors=user_errors(rejected.problems))
        await _after_commit(info, document, enqueue=False)
        return i.UpdateDocumentPayload(document=DocumentNode.from_row(document))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Soft delete, restorable for 30 days.")
    async def delete_document(self, info: Info, input: i.DeleteDocumentInput) -> i.DeleteDocumentPayload:
        try:
            document = await in_transaction(
                info,
                lambda db: documents.delete_document(db, _viewer(info), input_id(input.document_id, "Document")),
            )
        except Rejected as rejected:
            return i.DeleteDocumentPayload(errors=user_errors(rejected.problems))
        await _after_commit(info, document, enqueue=False)
        return i.DeleteDocumentPayload(document=DocumentNode.from_row(document))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Bring back a document deleted in the last 30 days.")
    async def restore_document(self, info: Info, input: i.RestoreDocumentInput) -> i.RestoreDocumentPayload:
        try:
            document = await in_transaction(
                info,
                lambda db: documents.restore_document(db, _viewer(info), input_id(input.document_id, "Document")),
            )
        except Rejected as rejected:
            return i.RestoreDocumentPayload(errors=user_errors(rejected.problems))
        await _after_commit(info, document, enqueue=False)
        return i.RestoreDocumentPayload(document=DocumentNode.from_row(document))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Process a completed or failed document again.")
    async def reprocess_document(self, info: Info, input: i.ReprocessDocumentInput) -> i.ReprocessDocumentPayload:
        try:
            document = await in_transaction(
                info,
                lambda db: documents.reprocess_document(db, _viewer(info), input_id(input.document_id, "Document")),
            )
        except Rejected as rejected:
            return i.ReprocessDocumentPayload(errors=user_errors(rejected.problems))
        await _after_commit(info, document, enqueue=True)
        return i.ReprocessDocumentPayload(document=DocumentNode.from_row(document))
