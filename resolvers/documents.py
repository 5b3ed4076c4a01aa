"""Document use cases: upload, change, delete, restore, reprocess, search, download.

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
from typing import IO, Any

from sqlalchemy import Row, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loaders.documents import DOCUMENT_COLUMNS
from loaders.visibility import documents
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
from resolvers.document_events import document_channel, encode_document
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
    uow.publish(document_channel(document.user_id), encode_document(document))


def enqueue_after_commit(uow: UnitOfWork, queue: DocumentQueue, document_id: uuid.UUID) -> None:
    async def enqueue() -> None:
        if not await queue.enqueue(document_id):
            log.warning("document %s could not be queued (Redis unreachable)", document_id)

    uow.after_commit(enqueue)


DOCUMENT_NOT_FOUND = Problem("input.documentId", ErrorCode.NOT_FOUND, "No such document.")
QUERY_MAX = 500
TOO_LARGE_MESSAGE = f"A document can be at most {MAX_FILE_SIZE} bytes (10 MiB)."
UNSUPPORTED_MESSAGE = "Upload a PDF, a Word document (DOC or DOCX) or a text file."
ENGLISH: Any = literal_column("'english'::regconfig")  # inlined: the planner matches the index expression


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
    db = uow.db
    document = await _own(db, user_id, document_id, deleted=False)
    if changes.title is not None:
        document.title = title
    if changes.category is not None:
        document.category = category
    if changes.tags is not None:
        document.tags = tags
    await db.flush()
    await db.refresh(document)
    announce(uow, services.cache, document)
    return document


async def delete_document(
    uow: UnitOfWork, services: DocumentServices, user_id: uuid.UUID, document_id: uuid.UUID | None
) -> Document:
    """Soft delete: hidden everywhere, restorable for 30 days."""
    document = await _own(uow.db, user_id, document_id, deleted=False)
    document.deleted_at = func.now()  # type: ignore[assignment]
    await uow.db.flush()
    await uow.db.refresh(document)
    announce(uow, services.cache, document)
    return document


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
    await uow.db.flush()
    await uow.db.refresh(document)
    announce(uow, services.cache, document)
    return document


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
class SearchFilter:
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchHit:
    row: Row[Any]
    rank: float
    highlights: list[str]


def check_query(query: str) -> Problem | None:
    if not query.strip():
        return Problem("query", ErrorCode.REQUIRED, "Say what to search for.")
    return check_text("query", query, maximum=QUERY_MAX)


HEADLINE_OPTIONS = "StartSel=\x02, StopSel=\x03, MaxFragments=3, MaxWords=20, MinWords=6, FragmentDelimiter=\x1e"
HEADLINE_CHARS = 50_000  # highlights come from the start of a long text: its cost must stay bounded


def _content_vector() -> Any:
    return func.to_tsvector(ENGLISH, documents.c.content_text)  # idx_documents_content_text


def _title_vector() -> Any:
    # The empty string inlined too: a bound parameter would not match the index expression.
    return func.to_tsvector(
        ENGLISH, func.coalesce(documents.c.title, literal_column("''"))
    )  # idx_documents_title_search


def _search_where(user_id: uuid.UUID, tsquery: Any, search_filter: SearchFilter) -> list[Any]:
    where = [
        documents.c.user_id == user_id,
        documents.c.deleted_at.is_(None),
        or_(_content_vector().op("@@")(tsquery), _title_vector().op("@@")(tsquery)),
    ]
    if search_filter.categories:
        where.append(documents.c.category.in_(search_filter.categories))
    if search_filter.tags:
        where.append(documents.c.tags.contains(list(search_filter.tags)))
    if search_filter.statuses:
        where.append(documents.c.processing_status.in_(search_filter.statuses))
    return where


def search_statement(
    user_id: uuid.UUID, query: str, search_filter: SearchFilter, limit: int, after: tuple[float, uuid.UUID] | None
) -> Any:
    """The viewer's documents matching `query` (web-search syntax), best first (`ts_rank_cd`, the title
    weighted above the text), `limit` of them after the cursor, each with highlighted fragments."""
    tsquery = func.websearch_to_tsquery(ENGLISH, query)
    rank = func.ts_rank_cd(documents.c.search_vector, tsquery)  # stored: title weighted A, then the text
    ranked = (
        select(*DOCUMENT_COLUMNS, rank.label("rank"), tsquery.label("tsquery"))
        .where(*_search_where(user_id, tsquery, search_filter))
        .subquery("ranked")
    )
    page = select(ranked)
    if after is not None:
        after_rank: Any = literal_column(f"CAST({float(after[0])!r} AS real)")
        page = page.where(or_(ranked.c.rank < after_rank, and_(ranked.c.rank == after_rank, ranked.c.id > after[1])))
    page_sq = page.order_by(ranked.c.rank.desc(), ranked.c.id).limit(limit).subquery("page")
    text_of = select(documents.c.content_text).where(documents.c.id == page_sq.c.id).scalar_subquery()
    headline = func.ts_headline(
        ENGLISH, func.left(func.coalesce(text_of, ""), HEADLINE_CHARS), page_sq.c.tsquery, HEADLINE_OPTIONS
    ).label("headline")
    title_headline = func.ts_headline(
        ENGLISH, func.coalesce(page_sq.c.title, literal_column("''")), page_sq.c.tsquery, HEADLINE_OPTIONS
    ).label("title_headline")
    columns = [column for column in page_sq.c if column.name != "tsquery"]
    return select(*columns, headline, title_headline).order_by(page_sq.c.rank.desc(), page_sq.c.id)


def highlights(headline: str | None, title_headline: str | None) -> list[str]:
    """Fragments holding a match, as text with the matches between \\x02 and \\x03 (the graph marks them up)."""
    fragments = [fragment.strip() for fragment in (headline or "").split("\x1e") if "\x02" in fragment]
    if not fragments and title_headline and "\x02" in title_headline:
        fragments = [title_headline.strip()]
    return fragments


async def search_documents(
    db: Any,
    user_id: uuid.UUID,
    query: str,
    search_filter: SearchFilter,
    *,
    first: int,
    after: tuple[float, uuid.UUID] | None,
) -> tuple[list[SearchHit], bool]:
    """A page of hits and whether more follow. `db` is the request's database (loaders/session.py)."""
    rows = await db.rows(search_statement(user_id, query, search_filter, first + 1, after))
    hits = [
        SearchHit(row=row, rank=float(row.rank), highlights=highlights(row.headline, row.title_headline))
        for row in rows[:first]
    ]
    return hits, len(rows) > first


async def count_matches(db: Any, user_id: uuid.UUID, query: str, search_filter: SearchFilter) -> int:
    tsquery = func.websearch_to_tsquery(ENGLISH, query)
    statement = select(func.count()).select_from(documents).where(*_search_where(user_id, tsquery, search_filter))
    rows = await db.rows(statement)
    return int(rows[0][0])


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
            select(
                documents.c.file_path, documents.c.mime_type, documents.c.original_filename, documents.c.file_size
            ).where(documents.c.id == document_id, documents.c.user_id == user_id, documents.c.deleted_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    return Downloadable(key=row.file_path, mime_type=row.mime_type, filename=row.original_filename, size=row.file_size)
