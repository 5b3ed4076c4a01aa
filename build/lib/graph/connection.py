"""Keyset cursor connections: `first/after/last/before`, `pageInfo`, `totalCount`, opaque cursors.

A cursor is the base64 of the order's name and the row's values of the order's keys, so it stays valid
while rows are inserted or removed around it (offset cursors would shift), and a cursor minted for one
order is refused by another.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import BigInteger, DateTime, Integer, Row, SmallInteger, String
from sqlalchemy.dialects.postgresql import UUID
from strawberry.relay import PageInfo

from graph.errors import bad_input
from loaders.base import ConnectionLoaders
from loaders.pagination import Order, Page, PageRequest

DEFAULT_PAGE = 50
MAX_PAGE = 100

NodeT = TypeVar("NodeT")


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def encode_cursor(order: Order, row: Row[Any]) -> str:
    values = [_encode_value(getattr(row, key.name)) for key in order.keys]
    raw = json.dumps([order.name, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_value(key: Any, value: Any) -> Any:
    if isinstance(key.type, DateTime):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        # In UTC, as the driver sends it: a time at the edge of the calendar (year 1 east of UTC,
        # year 9999 west of it) overflows here, as a client error, rather than in the driver.
        return parsed.astimezone(UTC)
    if isinstance(key.type, UUID):
        return uuid.UUID(value)
    # The value is bound with the column's type: a forged cursor carrying a number (or a bool) for a text
    # key, or a NUL PostgreSQL text cannot hold, would fail in the driver instead of as a client error.
    if isinstance(key.type, String):
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError("unexpected value")
        return value
    if isinstance(key.type, Integer):
        bits = 16 if isinstance(key.type, SmallInteger) else 64 if isinstance(key.type, BigInteger) else 32
        if not isinstance(value, int) or isinstance(value, bool) or not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise ValueError("unexpected value")  # beyond the column's range, the driver would fail
        return value
    raise ValueError("unsupported key type")


def decode_cursor(order: Order, cursor: str, *, argument: str) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, values = json.loads(raw)
        if name != order.name or len(values) != len(order.keys):
            raise ValueError("cursor of another order")
        return tuple(_decode_value(key, value) for key, value in zip(order.keys, values, strict=True))
    except Exception:
        raise bad_input(f"`{argument}` is not a cursor of this connection in this order.") from None


def page_request(
    order: Order,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filters: Hashable = None,
) -> PageRequest:
    """Validate connection arguments. Raised as GraphQL errors (with `extensions.code`) because a bad
    page argument means the client's query is wrong, not its data."""
    if first is not None and last is not None:
        raise bad_input("Pass `first` or `last`, not both.")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE:
            raise bad_input(f"`{name}` must be between 0 and {MAX_PAGE}.")
    if first is None and last is None:
        first = DEFAULT_PAGE
    return PageRequest(
        order=order,
        first=first,
        last=last,
        after=decode_cursor(order, after, argument="after") if after is not None else None,
        before=decode_cursor(order, before, argument="before") if before is not None else None,
        filters=filters,
    )


@strawberry.type(description="An edge in a connection: a node and the cursor that points at it.")
class Edge(Generic[NodeT]):
    node: NodeT
    _row: strawberry.Private[Row[Any]]
    _order: strawberry.Private[Order]

    @strawberry.field(description="Opaque cursor for `after`/`before`.")
    def cursor(self) -> str:
        return encode_cursor(self._order, self._row)


@strawberry.type(description="A page of a list, with keyset cursors.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    _total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the list holds with the same filters, all pages.")
    async def total_count(self) -> int:
        return await self._total()

    @strawberry.field(description="The nodes of this page, without edges.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


async def load_connection(
    loaders: ConnectionLoaders,
    parent_id: uuid.UUID,
    request: PageRequest,
    build: Callable[[Row[Any]], NodeT],
) -> Connection[NodeT]:
    page: Page = await loaders.pages.load((parent_id, request))
    await loaders.turns.take()  # the caller completes this page without awaiting: let others in first
    order = request.order
    edges = [Edge(node=build(row), _row=row, _order=order) for row in page.rows]
    page_info = PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=encode_cursor(order, page.rows[0]) if page.rows else None,
        end_cursor=encode_cursor(order, page.rows[-1]) if page.rows else None,
    )
    count_key = (parent_id, request.filters)
    return Connection(edges=edges, page_info=page_info, _total=lambda: loaders.counts.load(count_key))
