"""Documents: node visibility, page specs, orders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from loaders import visibility
from loaders.columns import row_columns
from loaders.pagination import Order, PageSpec
from loaders.visibility import documents, soft_deleted

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
    return visibility.visible_documents(viewer_id, *DOCUMENT_COLUMNS)


def documents_of_user(spec_filter: DocumentFilter) -> PageSpec:
    """The parent is the viewer: the lists hang off `viewer`."""
    where = [soft_deleted(documents, deleted=spec_filter.deleted)]
    if spec_filter.categories:
        where.append(documents.c.category.in_(spec_filter.categories))
    if spec_filter.tags:
        where.append(documents.c.tags.contains(list(spec_filter.tags)))
    if spec_filter.statuses:
        where.append(documents.c.processing_status.in_(spec_filter.statuses))
    return PageSpec(base=select(*DOCUMENT_COLUMNS), parent=documents.c.user_id, where=tuple(where))
