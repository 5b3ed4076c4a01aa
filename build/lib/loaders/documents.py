"""Documents: node visibility, page specs, orders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, false, select

from loaders.columns import row_columns
from loaders.pagination import Order, PageSpec
from models import Document

documents = Document.__table__  # type: ignore[attr-defined]
DOCUMENT_COLUMNS = row_columns(documents)

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
    if viewer_id is None:
        return select(*DOCUMENT_COLUMNS).where(false())
    return select(*DOCUMENT_COLUMNS).where(documents.c.user_id == viewer_id, documents.c.deleted_at.is_(None))


def documents_of_user(spec_filter: DocumentFilter) -> PageSpec:
    deleted = documents.c.deleted_at
    where = [deleted.is_not(None) if spec_filter.deleted else deleted.is_(None)]
    if spec_filter.categories:
        where.append(documents.c.category.in_(spec_filter.categories))
    if spec_filter.tags:
        where.append(documents.c.tags.contains(list(spec_filter.tags)))
    if spec_filter.statuses:
        where.append(documents.c.processing_status.in_(spec_filter.statuses))
    return PageSpec(base=select(*DOCUMENT_COLUMNS), parent=documents.c.user_id, where=tuple(where))
