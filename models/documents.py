"""documents: uploaded files and what was extracted from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Computed, Index, Integer, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlmodel import Field

from models.base import Keyed, jsonb, owner_fk, text_array, text_col, tstz, utcnow, varchar
from models.log_line import LogLine

MAX_FILE_SIZE = 10 * 1024 * 1024
MAX_TAGS = 10
TAG_MAX = 50
TITLE_MAX = 255
CATEGORY_MAX = 100
FILENAME_MAX = 255
RESTORE_WINDOW_DAYS = 30


SEARCH_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, (COALESCE(title, ''::character varying))::text), 'A'::\"char\") "
    "|| to_tsvector('english'::regconfig, COALESCE(content_text, ''::text))"
)


class ProcessingStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class Document(Keyed, table=True):
    __tablename__ = "documents"
    __table_args__ = (
        Index("idx_documents_tags", "tags", postgresql_using="gin"),
        # A user's documents by upload, the default order of `viewer.documents` (migration pag1).
        Index("idx_documents_user_uploaded", "user_id", "uploaded_at", "id"),
        Index(
            "idx_documents_content_text",
            text("to_tsvector('english'::regconfig, content_text)"),
            postgresql_using="gin",
        ),
        # Search covers the title too (migration doc1): a second GIN index, so `title @@ q OR content @@ q`
        # is a BitmapOr of two index scans, never a scan of the table.
        Index(
            "idx_documents_title_search",
            text("to_tsvector('english'::regconfig, COALESCE(title, ''::character varying)::text)"),
            postgresql_using="gin",
        ),
    )

    user_id: uuid.UUID = Field(sa_column=owner_fk("users.id", ondelete="CASCADE", name="user_id", index=True))
    filename: str = Field(sa_column=varchar("filename", 255, nullable=False))
    original_filename: str = Field(sa_column=varchar("original_filename", 255, nullable=False))
    title: str | None = Field(default=None, sa_column=varchar("title", 255))
    category: str | None = Field(default=None, sa_column=varchar("category", 100, index=True))
    tags: list[str] | None = Field(default=None, sa_column=text_array("tags"))
    mime_type: str = Field(sa_column=varchar("mime_type", 100, nullable=False))
    file_size: int = Field(sa_column=Column("file_size", Integer, nullable=False))
    file_path: str = Field(sa_column=varchar("file_path", 500, nullable=False))
    content_text: str | None = Field(default=None, sa_column=text_col("content_text"))
    extracted_data: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb("extracted_data"))
    processing_status: str = Field(
        default=ProcessingStatus.PENDING, sa_column=varchar("processing_status", 20, default="pending", index=True)
    )
    processing_error: str | None = Field(default=None, sa_column=text_col("processing_error"))
    uploaded_at: datetime = Field(default_factory=utcnow, sa_column=tstz("uploaded_at", default_now=True, index=True))
    processed_at: datetime | None = Field(default=None, sa_column=tstz("processed_at"))
    deleted_at: datetime | None = Field(default=None, sa_column=tstz("deleted_at"))
    # doc1: the title and text as one weighted tsvector, kept by PostgreSQL, so ranking a search reads it
    # instead of parsing every matching text again (the seed's GIN indexes still find the matches).
    search_vector: Any = Field(
        default=None,
        sa_column=Column("search_vector", TSVECTOR, Computed(SEARCH_VECTOR, persisted=True), nullable=True),
    )


class ProcessingLogEvent(StrEnum):
    """What a document processing log line records: a move of the document lifecycle."""

    CLAIMED = "claimed"
    COMPLETED = "completed"
    FAILED = "failed"
    REQUEUED = "requeued"  # `reprocessDocument`, or its worker stopped answering


class DocumentProcessingLog(LogLine, table=True):
    """The seed's "processing logs" (migration lif3): each processing of a document, kept 90 days."""

    __tablename__ = "document_processing_logs"
    __table_args__ = (Index("idx_document_processing_logs_document_id", "document_id", "logged_at"),)

    document_id: uuid.UUID = Field(sa_column=owner_fk("documents.id", ondelete="CASCADE", name="document_id"))
