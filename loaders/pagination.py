"""Keyset pagination over one table, batched across parents.

A `PageSpec` says which rows a connection reads (table, parent column, filters, order); a `PageRequest`
is one page of it (first/last, decoded after/before). `fetch_pages` answers many parents' pages with one
statement: the parent ids (`unnest`) each joined to a `LATERAL` subquery that reads that parent's rows in
the page order, cut at `first + 1` (so `hasNextPage` costs nothing). With an index on (parent, order keys)
each page reads about `first + 1` rows, however many rows its parent holds; a `row_number()` window over
all parents' rows read every row of each parent (issue 14: 211 ms against 72 ms for a 100,000-message
session batched with a small one).
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, column, func, literal, select, true, tuple_
from sqlalchemy.dialects.postgresql import ARRAY

from loaders.session import RequestDb


@dataclass(frozen=True, eq=False)
class Order:
    """A total order over plain columns, the last one unique (the primary key). Orders are module-level
    singletons compared by identity (a column's `==` builds SQL, so dataclass equality is off)."""

    name: str
    keys: tuple[ColumnElement[Any], ...]
    descending: bool

    def clauses(self, *, reverse: bool = False) -> list[ColumnElement[Any]]:
        desc = self.descending != reverse
        return [key.desc() if desc else key.asc() for key in self.keys]

    def after(self, values: Sequence[Any], *, reverse: bool = False) -> ColumnElement[bool]:
        """Rows strictly after `values` in this order (or before them, reversed)."""
        desc = self.descending != reverse
        keys = tuple_(*self.keys)
        bound = tuple_(*[literal(value, key.type) for key, value in zip(self.keys, values, strict=True)])
        return keys < bound if desc else keys > bound


@dataclass(frozen=True)
class PageRequest:
    """One page. Exactly one of `first`/`last` is set; cursors are already decoded into key values."""

    order: Order
    first: int | None = None
    last: int | None = None
    after: tuple[Any, ...] | None = None
    before: tuple[Any, ...] | None = None
    filters: Hashable = None  # a hashable description of the filters, for batching

    @property
    def size(self) -> int:
        return self.first if self.first is not None else (self.last or 0)

    @property
    def backwards(self) -> bool:
        return self.last is not None


@dataclass
class Page:
    rows: list[Row[Any]]
    has_next_page: bool
    has_previous_page: bool


@dataclass(frozen=True)
class PageSpec:
    """What a connection reads: `parent` is the column that ties rows to their parent."""

    base: Select[Any]
    parent: ColumnElement[Any]
    where: tuple[ColumnElement[bool], ...] = field(default=())


def _bounded(spec: PageSpec, request: PageRequest) -> Select[Any]:
    stmt = spec.base.where(*spec.where)
    if request.after is not None:
        stmt = stmt.where(request.order.after(request.after))
    if request.before is not None:
        stmt = stmt.where(request.order.after(request.before, reverse=True))
    return stmt


def batched_pages(spec: PageSpec, request: PageRequest, parent_ids: Sequence[uuid.UUID]) -> Select[Any]:
    """The statement of a page for each of `parent_ids`: `unnest(ids) WITH ORDINALITY AS parents JOIN LATERAL
    (<spec's rows of one parent, filters and cursors> ORDER BY <order> LIMIT size + 1) ON true`. Each row
    carries its parent as `_parent`; rows come out parent after parent, each parent's in the order read."""
    backwards = request.backwards
    parents = (
        func.unnest(literal(list(dict.fromkeys(parent_ids)), ARRAY(spec.parent.type)))  # each parent once
        .table_valued(column("id", spec.parent.type), with_ordinality="ord")
        .render_derived(name="parents")
    )
    page = (
        _bounded(spec, request)
        .where(spec.parent == parents.c.id)
        .order_by(*request.order.clauses(reverse=backwards))
        .limit(request.size + 1)
        .lateral("page")
    )
    # The order again, over the subquery's columns: a join keeps no order of its own.
    desc = request.order.descending != backwards
    resorted = [_page_column(page, key) for key in request.order.keys]
    return (
        select(parents.c.id.label("_parent"), page)
        .select_from(parents)
        .join(page, true())
        .order_by(parents.c.ord, *[key.desc() if desc else key.asc() for key in resorted])
    )


def _page_column(page: Any, key: ColumnElement[Any]) -> ColumnElement[Any]:
    found: ColumnElement[Any] | None = page.corresponding_column(key)
    if found is None:
        raise ValueError(f"page spec must select its order key {key}")
    return found


async def fetch_pages(
    db: RequestDb, spec: PageSpec, request: PageRequest, parent_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Page]:
    """One statement for every parent's page of the same request."""
    if len(parent_ids) == 1:
        order = request.order.clauses(reverse=request.backwards)
        stmt = _bounded(spec, request).where(spec.parent == parent_ids[0]).order_by(*order).limit(request.size + 1)
        grouped: dict[uuid.UUID, list[Row[Any]]] = {parent_ids[0]: list(await db.rows(stmt))}
    else:
        grouped = {parent_id: [] for parent_id in parent_ids}
        for row in await db.rows(batched_pages(spec, request, parent_ids)):
            grouped[row._mapping["_parent"]].append(row)  # `row._parent` is Row's own metadata
    pages: dict[uuid.UUID, Page] = {}
    for parent_id, rows in grouped.items():
        more = len(rows) > request.size
        rows = rows[: request.size]
        if request.backwards:
            rows.reverse()
            pages[parent_id] = Page(rows, has_next_page=request.before is not None, has_previous_page=more)
        else:
            pages[parent_id] = Page(rows, has_next_page=more, has_previous_page=request.after is not None)
    return pages


async def count_rows(db: RequestDb, spec: PageSpec, parent_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per-parent totals (filters applied, cursors ignored) in one GROUP BY."""
    counted = spec.base.where(*spec.where, spec.parent.in_(parent_ids)).subquery()
    parent = counted.c.get(spec.parent.name)
    if parent is None:
        raise ValueError(f"page spec must select its parent column {spec.parent}")
    stmt = select(parent.label("parent_id"), func.count().label("total")).group_by(parent)
    totals = {parent_id: 0 for parent_id in parent_ids}
    for row in await db.rows(stmt):
        totals[row.parent_id] = row.total
    return totals


def any_of(column: ColumnElement[Any], values: Sequence[Any] | None) -> ColumnElement[bool] | None:
    if not values:
        return None
    return column.in_(list(values))


def all_of(*clauses: ColumnElement[bool] | None) -> tuple[ColumnElement[bool], ...]:
    return tuple(clause for clause in clauses if clause is not None)
