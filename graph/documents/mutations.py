"""The documents mutations, each one unit of work (graph/mutations.py); the use cases register what
follows the commit (cache invalidation, the `documentUpdated` event, the processing job)."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry

from graph.context import Info
from graph.documents import inputs as i
from graph.documents.types import DocumentNode
from graph.mutations import Work, node_answer, refuse, signed_in_mutation
from graph.node import input_id
from graph.permissions import viewer_id
from models import Document
from resolvers import documents
from resolvers.problems import ErrorCode, Problem


def _services(info: Info) -> documents.DocumentServices:
    resources = info.context.resources
    return documents.DocumentServices(
        storage=resources.storage, cache=resources.document_cache, queue=resources.document_queue
    )


def _document(input: i.UpdateDocumentInput | i.DocumentInput) -> uuid.UUID | None:
    return input_id(input.document_id, "Document")


def _upload_file(value: Any) -> tuple[Any, str | None] | None:
    """(the file object, the client's filename) of an `Upload` value; None when the value is no file
    (a client sent a string where the multipart map should have put a file)."""
    file = getattr(value, "file", None)
    if file is None or not hasattr(file, "read") or not hasattr(file, "seek"):
        return None
    return file, getattr(value, "filename", None)


DOCUMENT = node_answer("document", DocumentNode)


@strawberry.type
class DocumentsMutation:
    @signed_in_mutation(
        DOCUMENT,
        description="Upload a document (GraphQL multipart request; send `Apollo-Require-Preflight: true`).",
        payload_description="Answer of `uploadDocument`: the document, PENDING, queued for processing.",
    )
    def upload_document(self, info: Info, input: i.UploadDocumentInput) -> Work[Document]:
        upload = _upload_file(input.file)
        if upload is None:
            return refuse(Problem("input.file", ErrorCode.REQUIRED, "Send the file as a multipart upload."))
        request = documents.UploadRequest(
            file=upload[0], filename=upload[1], title=input.title, category=input.category, tags=input.tags
        )
        return lambda uow: documents.upload_document(uow, _services(info), viewer_id(info), request)

    @signed_in_mutation(
        DOCUMENT,
        description="Change a document's title, category or tags.",
        payload_description="Answer of `updateDocument`.",
    )
    def update_document(self, info: Info, input: i.UpdateDocumentInput) -> Work[Document]:
        changes = documents.DocumentChanges(title=input.title, category=input.category, tags=input.tags)
        document_id = _document(input)
        return lambda uow: documents.update_document(uow, _services(info), viewer_id(info), document_id, changes)

    @signed_in_mutation(
        DOCUMENT,
        description="Soft delete, restorable for 30 days.",
        payload_description="Answer of `deleteDocument`: the document, with `deletedAt` set.",
    )
    def delete_document(self, info: Info, input: i.DocumentInput) -> Work[Document]:
        document_id = _document(input)
        return lambda uow: documents.delete_document(uow, _services(info), viewer_id(info), document_id)

    @signed_in_mutation(
        DOCUMENT,
        description="Bring back a document deleted in the last 30 days.",
        payload_description="Answer of `restoreDocument`.",
    )
    def restore_document(self, info: Info, input: i.DocumentInput) -> Work[Document]:
        document_id = _document(input)
        return lambda uow: documents.restore_document(uow, _services(info), viewer_id(info), document_id)

    @signed_in_mutation(
        DOCUMENT,
        description="Process a completed or failed document again.",
        payload_description="Answer of `reprocessDocument`: the document, PENDING again, queued.",
    )
    def reprocess_document(self, info: Info, input: i.DocumentInput) -> Work[Document]:
        document_id = _document(input)
        return lambda uow: documents.reprocess_document(uow, _services(info), viewer_id(info), document_id)
