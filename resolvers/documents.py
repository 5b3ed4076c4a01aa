"""Document use cases: upload, change, delete, restore, reprocess, download (search: resolvers/document_search.py).

Each use case runs in a unit of work and registers what follows its commit: the cached metadata is
invalidated, the document published to its owner's `documentUpdated` subscribers, and a new or
reprocessed document queued for the worker. Uploads store the original before the first statement (no
network call inside a transaction); a row that cannot be written takes its stored file with it.
Processing states belong to resolvers/document_lifecycle.py."""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from loaders.visibility import documents, visible_documents
from models import Document
from models.documents import (
    CATEGORY_MAX,
    FILENAME_MAX,
    MAX_FILE_SIZE,
    MAX_TAGS,
    RESTORE_WINDOW_DAYS,
    TAG_MAX,
    TITLE_MAX,
)
from resolvers import document_lifecycle
from resolvers.document_events import DOCUMENT_EVENTS
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.unit_of_work import UnitOfWork
from resolvers.validation import check_text, collect
from services.document_cache import DocumentCache
from services.document_queue import DocumentQueue
from services.extraction.sniff import DocumentType, sniff
from services.storage import Storage, document_key

log = logging.getLogger("gateway.documents")


@dataclass(frozen=True)
class DocumentServices:
    """What document use cases reach beyond the database: the store, the metadata cache, the queue."""

    storage: Storage
    cache: DocumentCache
    queue: DocumentQueue


def announce(uow: UnitOfWork, cache: DocumentCache, document: Document) -> None:
    """After the commit: forget the cached metadata, then tell the owner's subscribers how it stands."""
    uow.after_commit(lambda: cache.invalidate(document.id))
    DOCUMENT_EVENTS.publish_after_commit(uow, document)


def enqueue_after_commit(uow: UnitOfWork, queue: DocumentQueue, document_id: uuid.UUID) -> None:
    async def enqueue() -> None:
        if not await queue.enqueue(document_id):
            log.warning("document %s could not be queued (Redis unreachable)", document_id)

    uow.after_commit(enqueue)


DOCUMENT_NOT_FOUND = Problem("input.documentId", ErrorCode.NOT_FOUND, "No such document.")
TOO_LARGE_MESSAGE = f"A document can be at most {MAX_FILE_SIZE} bytes (10 MiB)."
UNSUPPORTED_MESSAGE = "Upload a PDF, a Word document (DOC or DOCX) or a text file."


@dataclass(frozen=True)
class UploadRequest:
    file: IO[bytes]
    filename: str | None
    title: str | None
    category: str | None
    tags: Sequence[str] | None


@dataclass(frozen=True)
class DocumentChanges:
    """None leaves a field as it is; an empty title or category clears it; an empty tag list clears the tags."""

    title: str | None = None
    category: str | None = None
    tags: Sequence[str] | None = None


def normalize_tags(tags: Sequence[str], field: str = "input.tags") -> tuple[list[str], list[Problem]]:
    """Trimmed, lower-cased, de-duplicated (first occurrence kept); 1-50 characters each, at most 10."""
    problems: list[Problem] = []
    cleaned: list[str] = []
    for index, raw in enumerate(tags):
        tag = raw.strip().lower()
        if not tag:
            problems.append(Problem(f"{field}.{index}", ErrorCode.REQUIRED, "A tag needs at least one character."))
        elif (problem := check_text(f"{field}.{index}", tag, maximum=TAG_MAX)) is not None:
            problems.append(problem)
        elif tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        problems.append(Problem(field, ErrorCode.TOO_MANY, f"A document can carry at most {MAX_TAGS} tags."))
    return cleaned, problems


def _optional_text(field: str, value: str | None, maximum: int) -> tuple[str | None, Problem | None]:
    """A trimmed optional text; empty means none."""
    if value is None:
        return None, None
    value = value.strip()
    return (value or None), (check_text(field, value, maximum=maximum) if value else None)


def display_filename(name: str | None) -> str:
    """The client's filename, for display only: its last path part, without control characters,
    normalized, at most 255 characters. Never used in a path or a storage key."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(char for char in unicodedata.normalize("NFC", base) if unicodedata.category(char)[0] != "C")
    base = base.strip().strip(".") or "document"
    return base[:FILENAME_MAX]


def file_size(source: IO[bytes]) -> int:
    source.seek(0, 2)
    size = source.tell()
    source.seek(0)
    return size


async def upload_document(
    uow: UnitOfWork, services: DocumentServices, user_id: uuid.UUID, upload: UploadRequest
) -> Document:
    title, title_problem = _optional_text("input.title", upload.title, TITLE_MAX)
    category, category_problem = _optional_text("input.category", upload.category, CATEGORY_MAX)
    tags, problems = normalize_tags(upload.tags or [])
    problems = collect(title_problem, category_problem) + problems
    size = await asyncio.to_thread(file_size, upload.file)
    kind: DocumentType | None = None
    if size > MAX_FILE_SIZE:
        problems.append(Problem("input.file", ErrorCode.FILE_TOO_LARGE, TOO_LARGE_MESSAGE))
    elif size == 0:
        problems.append(Problem("input.file", ErrorCode.REQUIRED, "The file is empty."))
    else:
        kind = await asyncio.to_thread(sniff, upload.file)
        if kind is None:
            problems.append(Problem("input.file", ErrorCode.UNSUPPORTED_TYPE, UNSUPPORTED_MESSAGE))
    if problems or kind is None:
        raise Rejected(problems)

    document_id = uuid.uuid4()
    key = document_key(user_id, document_id)
    await uow.release()  # nothing is open yet; stated, so the store's network call is never inside one
    await services.storage.put_file(key, upload.file)
    try:
        document = Document(
            id=document_id,
            user_id=user_id,
            filename=f"{document_id}.{kind.extension}",
            original_filename=display_filename(upload.filename),
            title=title,
            category=category,
            tags=tags,
            mime_type=kind.value,
            file_size=size,
            file_path=key,
        )
        uow.db.add(document)
        await uow.db.flush()
        await uow.db.refresh(document)
    except BaseException:
        await services.storage.delete(key)
        raise
    announce(uow, services.cache, document)
    enqueue_after_commit(uow, services.queue, document.id)
    return document


async def _own(db: AsyncSession, user_id: uuid.UUID, document_id: uuid.UUID | None, *, deleted: bool) -> Document:
    if document_id is None:
        raise Rejected([DOCUMENT_NOT_FOUND])
    document = await db.get(Document, document_id, with_for_update=True, populate_existing=True)
    if document is None or document.user_id != user_id or (document.deleted_at is not None) != deleted:
        raise Rejected([DOCUMENT_NOT_FOUND])
    return document


async def _saved(uow: UnitOfWork, cache: DocumentCache, document: Document) -> Document:
    """Write the document's changes, read it back as stored, and announce it after the commit."""
    await uow.db.flush()
    await uow.db.refresh(document)
    announce(uow, cache, document)
    return document


async def update_document(
    uow: UnitOfWork,
    services: DocumentServices,
    user_id: uuid.UUID,
    document_id: uuid.UUID | None,
    changes: DocumentChanges,
) -> Document:
    title, title_problem = _optional_text("input.title", changes.title, TITLE_MAX)
    category, category_problem = _optional_text("input.category", changes.category, CATEGORY_MAX)
    tags, problems = normalize_tags(changes.tags) if changes.tags is not None else ([], [])
    problems = collect(title_problem, category_problem) + problems
    if problems:
        raise Rejected(problems)
    document = await _own(uow.db, user_id, document_id, deleted=False)
    if changes.title is not None:
        document.title = title
    if changes.category is not None:
        document.category = category
    if changes.tags is not None:
        document.tags = tags
    return await _saved(uow, services.cache, document)


async def delete_document(
    uow: UnitOfWork, services: DocumentServices, user_id: uuid.UUID, document_id: uuid.UUID | None
) -> Document:
    """Soft delete: hidden everywhere, restorable for 30 days."""
    document = await _own(uow.db, user_id, document_id, deleted=False)
    document.deleted_at = func.now()  # type: ignore[assignment]
    return await _saved(uow, services.cache, document)


async def restore_document(
    uow: UnitOfWork, services: DocumentServices, user_id: uuid.UUID, document_id: uuid.UUID | None
) -> Document:
    document = await _own(uow.db, user_id, document_id, deleted=True)
    assert document.deleted_at is not None
    if document.deleted_at < datetime.now(UTC) - timedelta(days=RESTORE_WINDOW_DAYS):
        raise Rejected(
            [
                Problem(
                    "input.documentId",
                    ErrorCode.INVALID_STATE,
                    f"Documents can be restored for {RESTORE_WINDOW_DAYS} days after they were deleted.",
                )
            ]
        )
    document.deleted_at = None
    return await _saved(uow, services.cache, document)


async def reprocess_document(
    uow: UnitOfWork, services: DocumentServices, user_id: uuid.UUID, document_id: uuid.UUID | None
) -> Document:
    """completed | failed -> pending, queued again after the commit."""
    if document_id is None:
        raise Rejected([DOCUMENT_NOT_FOUND])
    moved = await document_lifecycle.reprocess(uow.db, document_id, owner=user_id)
    if moved is not None:
        announce(uow, services.cache, moved)
        enqueue_after_commit(uow, services.queue, moved.id)
        return moved
    await _own(uow.db, user_id, document_id, deleted=False)  # NOT_FOUND when it is not the viewer's
    raise Rejected(
        [Problem("input.documentId", ErrorCode.INVALID_STATE, "The document is still waiting or being processed.")]
    )


@dataclass(frozen=True)
class Downloadable:
    key: str
    mime_type: str
    filename: str
    size: int


async def downloadable(db: AsyncSession, user_id: uuid.UUID, document_id: uuid.UUID) -> Downloadable | None:
    """The original of the user's own, not deleted document; None otherwise."""
    row = (
        await db.execute(
            visible_documents(
                user_id,
                documents.c.file_path,
                documents.c.mime_type,
                documents.c.original_filename,
                documents.c.file_size,
            ).where(documents.c.id == document_id)
        )
    ).first()
    if row is None:
        return None
    return Downloadable(key=row.file_path, mime_type=row.mime_type, filename=row.original_filename, size=row.file_size)
