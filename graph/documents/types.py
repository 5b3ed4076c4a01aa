"""The Document node and what was extracted from it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar

import strawberry

from graph.connection import Connection, HistoryEntry, Listing, history_field
from graph.context import Info
from graph.enums import ProcessingLogEvent, ProcessingStatus
from graph.input_limits import NAME, limited
from graph.jsondata import JSON, json_field
from graph.node import Node, columns, register_node_type
from loaders.documents import DOCUMENT_ORDERS, PROCESSING_LOG_ORDER, DocumentFilter
from services.download_links import download_path


@strawberry.type(description="One line of a document's processing log.")
class DocumentProcessingLogEntry(HistoryEntry):
    event: ProcessingLogEvent
    status: ProcessingStatus | None = strawberry.field(description="The processing status it moved to.")
    message: str | None = strawberry.field(description="The error, when the processing failed.")
    duration_ms: int | None = strawberry.field(description="How long the processing took, on its outcome.")
    logged_at: datetime


@strawberry.type
class ExtractedEntity:
    type: str = ""
    value: str = ""
    confidence: float | None = None
    start_offset: int | None = None
    end_offset: int | None = None


@strawberry.type
class ExtractedMetadata:
    page_count: int | None = None
    language: str | None = None
    author: str | None = None
    created_date: str | None = None
    modified_date: str | None = None


@strawberry.type
class DocumentBusinessContext:
    relevant_to: list[str] = strawberry.field(default_factory=list)
    action_items: list[str] = strawberry.field(default_factory=list)
    contacts: list[JSON] = strawberry.field(default_factory=list)
    dates: list[datetime] = strawberry.field(default_factory=list)


@strawberry.type
class DocumentExtractedData:
    summary: str | None = None
    key_terms: list[str] = strawberry.field(default_factory=list)
    entities: list[ExtractedEntity] = strawberry.field(default_factory=list)
    metadata: ExtractedMetadata | None = None
    business_context: DocumentBusinessContext | None = None


@strawberry.enum
class DocumentOrder(Enum):
    UPLOADED_AT_DESC = "UPLOADED_AT_DESC"
    UPLOADED_AT_ASC = "UPLOADED_AT_ASC"
    FILENAME_ASC = "FILENAME_ASC"


@strawberry.input(name="DocumentFilter")
class DocumentFilterInput:
    category: list[str] | None = limited(NAME, default=None)
    tags: list[str] | None = limited(NAME, default=None, description="Documents carrying all of these tags.")
    processing_status: list[ProcessingStatus] | None = None
    deleted: bool = strawberry.field(default=False, description="Only soft-deleted documents (restorable).")


@strawberry.type(name="Document", description="An uploaded file and what was extracted from it.")
class DocumentNode(Node):
    COLUMNS: ClassVar[dict[str, str]] = columns(
        "filename",
        "original_filename",
        "title",
        "category",
        "tags",
        "mime_type",
        "file_size",
        "processing_status",
        "processing_error",
        "uploaded_at",
        "processed_at",
        "deleted_at",
        raw_extracted="extracted_data",
        user_id="user_id",
    )
    pk: strawberry.Private[uuid.UUID]
    user_id: strawberry.Private[uuid.UUID]
    raw_extracted: strawberry.Private[Any]
    filename: str
    original_filename: str
    title: str | None
    category: str | None
    tags: list[str] | None
    mime_type: str = strawberry.field(description="The type read from the file's content, never from its name.")
    file_size: int = strawberry.field(description="Bytes.")
    processing_status: ProcessingStatus
    processing_error: str | None
    uploaded_at: datetime
    processed_at: datetime | None
    deleted_at: datetime | None

    extracted_data = json_field(DocumentExtractedData, "raw_extracted")

    processing_log: Connection[DocumentProcessingLogEntry] = history_field(
        DocumentProcessingLogEntry,
        PROCESSING_LOG_ORDER,
        lambda loaders: loaders.logs_of_document,
        description="Each processing of the document, oldest first: claimed, completed or failed (with the error "
        "and how long it took), queued again (kept 90 days).",
    )

    @strawberry.field(description="The text extracted from the file, once processed.")
    async def content_text(self, info: Info) -> str | None:
        return await info.context.loaders.document_texts.load(self.pk)

    @strawberry.field(
        description="An absolute, signed link to the original file, valid for 15 minutes (null once deleted)."
    )
    def download_url(self, info: Info) -> str | None:
        if self.deleted_at is not None or info.context.viewer_id != self.user_id:
            return None
        context = info.context
        path = download_path(context.resources.box, self.pk, self.user_id)
        return public_base(context.resources.settings.public_url, str(context.request.base_url)) + path


def document_filter(filter: DocumentFilterInput | None) -> DocumentFilter:
    """What a client's filter keeps, in a canonical form (it keys the batching of pages). Tags are matched as
    they are stored: trimmed and lower-cased."""
    if filter is None:
        return DocumentFilter()
    return DocumentFilter(
        categories=tuple(sorted(set(filter.category or []))),
        tags=tuple(sorted({tag.strip().lower() for tag in filter.tags or []})),
        statuses=tuple(sorted(set(filter.processing_status or []))),
        deleted=filter.deleted,
    )


DOCUMENTS = Listing(DocumentNode, DocumentFilterInput, DocumentOrder.UPLOADED_AT_DESC, document_filter, DOCUMENT_ORDERS)


register_node_type(DocumentNode, lambda loaders: loaders.documents)


def public_base(configured: str | None, request_base: str) -> str:
    """`GATEWAY_PUBLIC_URL`, else the base URL the client reached (a socket's, as HTTP)."""
    base = configured or request_base
    if base.startswith("ws"):
        base = "http" + base[2:]
    return base.rstrip("/")
