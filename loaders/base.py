"""Generic loaders: rows by primary key, pages of a connection, and per-parent totals.

Every loader answers one result per key, in key order, and runs one statement per batch.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, Row, Select

from loaders.pagination import Page, PageRequest, PageSpec, count_rows, fetch_pages
from loaders.session import RequestDb


class RowsByIdLoader(DataLoader[uuid.UUID, Row[Any] | None]):
    """Rows of `base` (already narrowed to what the viewer may see) keyed by `key` (usually `id`)."""

    def __init__(self, db: RequestDb, base: Select[Any], key: ColumnElement[Any]) -> None:
        super().__init__()
        self._db = db
        self._base = base
        self._key = key

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[Row[Any] | None]:
        found = {getattr(row, self._key.name): row
                 for row in await self._db.rows(self._base.where(self._key.in_(list(set(keys)))))}
        return [found.get(key) for key in keys]


PageKey = tuple[uuid.UUID, PageRequest]
CountKey = tuple[uuid.UUID, Hashable]


class PageLoader(DataLoader[PageKey, Page]):
    """Pages of one connection for many parents: one statement per distinct page request."""

    def __init__(self, db: RequestDb, spec_for: Callable[[Hashable], PageSpec]) -> None:
        super().__init__()
        self._db = db
        self._spec_for = spec_for

    async def batch_load_fn(self, keys: Sequence[PageKey]) -> list[Page]:
        groups: dict[PageRequest, list[uuid.UUID]] = defaultdict(list)
        for parent_id, request in keys:
            groups[request].append(parent_id)
        pages: dict[PageKey, Page] = {}
        for request, parent_ids in groups.items():
            unique = list(dict.fromkeys(parent_ids))
            for parent_id, page in (await fetch_pages(
                self._db, self._spec_for(request.filters), request, unique
            )).items():
                pages[(parent_id, request)] = page
        return [pages[key] for key in keys]


class CountLoader(DataLoader[CountKey, int]):
    """`totalCount` of one connection for many parents: one GROUP BY per distinct filter set."""

    def __init__(self, db: RequestDb, spec_for: Callable[[Hashable], PageSpec]) -> None:
        super().__init__()
        self._db = db
        self._spec_for = spec_for

    async def batch_load_fn(self, keys: Sequence[CountKey]) -> list[int]:
        groups: dict[Hashable, list[uuid.UUID]] = defaultdict(list)
        for parent_id, filters in keys:
            groups[filters].append(parent_id)
        totals: dict[CountKey, int] = {}
        for filters, parent_ids in groups.items():
            unique = list(dict.fromkeys(parent_ids))
            for parent_id, total in (await count_rows(self._db, self._spec_for(filters), unique)).items():
                totals[(parent_id, filters)] = total
        return [totals[key] for key in keys]


class ConnectionLoaders:
    """The page and count loaders of one connection kind, sharing its spec."""

    def __init__(self, db: RequestDb, spec_for: Callable[[Hashable], PageSpec]) -> None:
        self.pages = PageLoader(db, spec_for)
        self.counts = CountLoader(db, spec_for)
