"""Documents: node visibility, page specs, orders."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Row, Select, select

from loaders import visibility
from loaders.base import FairLoader
from loaders.columns import row_columns
from loaders.pagination import Order, PageSpec
from loaders.session import RequestDb
from loaders.turns import Turns
from loaders.visibility import documents, soft_deleted
from models import DocumentProcessingLog
from models.base import table_of

# A node's row: its text (up to a megabyte) is read only by `contentText`, and its storage key never.
DOCUMENT_COLUMNS = row_columns(documents, exclude=frozenset({"content_text", "file_path", "search_vector"}))

DOCUMENT_ORDERS = {
    "UPLOADED_AT_DESC": Order("dup-", (documents.c.uploaded_at, documents.c.id), descending=True),
    "UPLOADED_AT_ASC": Order("dup+", (documents.c.uploaded_at, documents.c.id), descending=False),
    "FILENAME_ASC": Order("dfn+", (documents.c.original_filename, documents.c.id), descending=False),
}


@dataclass(frozen=True)
class DocumentFilter:
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # every tag must be present
    statuses: tuple[str, ...] = ()
    deleted: bool = False  # true: only soft-deleted documents (what a restore screen lists)


def visible_documents(viewer_id: uuid.UUID | None) -> Select[Any]:
    return visibility.visible_documents(viewer_id, *DOCUMENT_COLUMNS)


def matching(spec_filter: DocumentFilter) -> list[ColumnElement[bool]]:
    """The filter's conditions on category, tags and processing status (the lists and the search share them)."""
    where: list[ColumnElement[bool]] = []
    if spec_filter.categories:
        where.append(documents.c.category.in_(spec_filter.categories))
    if spec_filter.tags:
        where.append(documents.c.tags.contains(list(spec_filter.tags)))
    if spec_filter.statuses:
        where.append(documents.c.processing_status.in_(spec_filter.statuses))
    return where


def documents_of_user(spec_filter: DocumentFilter) -> PageSpec:
    """The parent is the viewer: the lists hang off `viewer`."""
    where = [soft_deleted(documents, deleted=spec_filter.deleted), *matching(spec_filter)]
    return PageSpec(base=select(*DOCUMENT_COLUMNS), parent=documents.c.user_id, where=tuple(where))


class MetadataCache(Protocol):
    """What the documents loader needs of the Redis metadata cache (services/document_cache.py)."""

    async def read(self, ids: Sequence[uuid.UUID]) -> tuple[dict[uuid.UUID, Any], dict[uuid.UUID, int]]: ...

    async def write(self, rows: Iterable[tuple[uuid.UUID, Any, int]]) -> None: ...


class DocumentsByIdLoader(FairLoader[uuid.UUID, Any]):
    """The viewer's documents by id, through the Redis metadata cache (services/document_cache.py):
    one MGET per batch, then one statement for the misses."""

    def __init__(self, db: RequestDb, turns: Turns, viewer_id: uuid.UUID | None, cache: MetadataCache | None) -> None:
        super().__init__(turns)
        self._db = db
        self._viewer_id = viewer_id
        self._redis_cache = cache

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[Any]:
        if self._viewer_id is None:
            return [None] * len(keys)
        unique = list(dict.fromkeys(keys))
        cached, generations = await self._redis_cache.read(unique) if self._redis_cache is not None else ({}, {})
        found: dict[uuid.UUID, Any] = {
            pk: row for pk, row in cached.items() if row.user_id == self._viewer_id and row.deleted_at is None
        }
        missing = [pk for pk in unique if pk not in cached]
        if missing:
            rows = await self._db.rows(visible_documents(self._viewer_id).where(documents.c.id.in_(missing)))
            loaded = {row.id: row for row in rows}
            found.update(loaded)
            if self._redis_cache is not None and generations:
                await self._redis_cache.write((pk, row, generations[pk]) for pk, row in loaded.items())
        return [found.get(key) for key in keys]


class DocumentTextLoader(FairLoader[uuid.UUID, str | None]):
    """`contentText` of the viewer's documents (deleted ones too: a restore screen may show it)."""

    def __init__(self, db: RequestDb, turns: Turns, viewer_id: uuid.UUID | None) -> None:
        super().__init__(turns)
        self._db = db
        self._viewer_id = viewer_id

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[str | None]:
        if self._viewer_id is None:
            return [None] * len(keys)
        rows: Sequence[Row[Any]] = await self._db.rows(
            select(documents.c.id, documents.c.content_text).where(
                documents.c.id.in_(list(set(keys))), documents.c.user_id == self._viewer_id
            )
        )
        texts = {row.id: row.content_text for row in rows}
        return [texts.get(key) for key in keys]


processing_logs = table_of(DocumentProcessingLog)
PROCESSING_LOG_ORDER = Order("dpl+", (processing_logs.c.logged_at, processing_logs.c.id), descending=False)


def logs_of_document(_: object) -> PageSpec:
    """A document's processing log, oldest first (the parent document is one the viewer reads)."""
    return PageSpec(base=select(*processing_logs.c), parent=processing_logs.c.document_id)
