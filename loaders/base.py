"""Generic loaders: rows by primary key, pages of a connection, and per-parent totals.

Every loader answers one result per key, in key order, and runs one statement per batch.
"""

from __future__ import annotations

import asyncio
import uuid
from asyncio import Future
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader, Loader, dispatch_queue
from sqlalchemy import ColumnElement, Row, Select

from loaders.pagination import Page, PageRequest, PageSpec, count_rows, fetch_pages
from loaders.session import RequestDb
from loaders.turns import Turns

K = TypeVar("K")
V = TypeVar("V")


class FairLoader(DataLoader[K, V]):
    """A DataLoader whose batch stays open while pages of its request wait for their turn on the loop
    (loaders/turns.py): the loads those pages make still join one batch, one statement."""

    def __init__(self, turns: Turns) -> None:
        super().__init__()
        self._turns = turns

    def do_resolve_reject(self, key: K, future: Future[V]) -> None:
        self._queue.append(Loader(key=key, future=future))
        if len(self._queue) == 1:
            self.loop.call_soon(self._dispatch_when_settled, 2 if not self._turns.waiting else 0)

    def _dispatch_when_settled(self, rounds_since_wait: int = 0) -> None:
        if self._turns.waiting:
            self.loop.call_soon(self._dispatch_when_settled, 0)
            return
        if rounds_since_wait < 2:
            # The last pages to take their turn start their nested fields' tasks one or two rounds
            # later (graphql-core gathers them): wait for those loads too.
            self.loop.call_soon(self._dispatch_when_settled, rounds_since_wait + 1)
            return
        # As aiodataloader itself schedules it: one more round for loads made in this one.
        self._dispatching = asyncio.ensure_future(self._dispatch())

    async def _dispatch(self) -> None:
        dispatch_queue(self)


class RowsByIdLoader(FairLoader[uuid.UUID, Row[Any] | None]):
    """Rows of `base` (already narrowed to what the viewer may see) keyed by `key` (usually `id`)."""

    def __init__(self, db: RequestDb, turns: Turns, base: Select[Any], key: ColumnElement[Any]) -> None:
        super().__init__(turns)
        self._db = db
        self._base = base
        self._key = key

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[Row[Any] | None]:
        found = {
            getattr(row, self._key.name): row
            for row in await self._db.rows(self._base.where(self._key.in_(list(set(keys)))))
        }
        return [found.get(key) for key in keys]


# A connection's page spec for its filters. Each connection has a filter type of its own (SessionFilter,
# TaskFilter, ...); the loaders get the filters back from the page requests, where they travel as Hashable.
SpecFor = Callable[[Any], PageSpec]


Group = TypeVar("Group", bound=Hashable)
FetchGroup = Callable[[Group, list[uuid.UUID]], Awaitable[Mapping[uuid.UUID, V]]]


class PerParentLoader(FairLoader[tuple[uuid.UUID, Group], V]):
    """Keys are (parent id, group): one `fetch` per distinct group, for all the parents asking for it."""

    def __init__(self, turns: Turns, fetch: FetchGroup[Group, V]) -> None:
        super().__init__(turns)
        self._fetch = fetch

    async def batch_load_fn(self, keys: Sequence[tuple[uuid.UUID, Group]]) -> list[V]:
        groups: dict[Group, list[uuid.UUID]] = defaultdict(list)
        for parent_id, group in keys:
            groups[group].append(parent_id)
        found: dict[tuple[uuid.UUID, Group], V] = {}
        for group, parent_ids in groups.items():
            for parent_id, value in (await self._fetch(group, list(dict.fromkeys(parent_ids)))).items():
                found[(parent_id, group)] = value
        return [found[key] for key in keys]


class ConnectionLoaders:
    """The page and count loaders of one connection kind, sharing its spec: pages batch per distinct page
    request, `totalCount`s (one GROUP BY) per distinct filter set."""

    def __init__(self, db: RequestDb, turns: Turns, spec_for: SpecFor) -> None:
        async def pages(request: PageRequest, parent_ids: list[uuid.UUID]) -> dict[uuid.UUID, Page]:
            return await fetch_pages(db, spec_for(request.filters), request, parent_ids)

        async def counts(filters: Hashable, parent_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
            return await count_rows(db, spec_for(filters), parent_ids)

        self.turns = turns
        self.pages: PerParentLoader[PageRequest, Page] = PerParentLoader(turns, pages)
        self.counts: PerParentLoader[Hashable, int] = PerParentLoader(turns, counts)
