"""Keyset cursor connections: `first/after/last/before`, `pageInfo`, `totalCount`, opaque cursors.

A cursor is the base64 of the order's name and the row's values of the order's keys, so it stays valid
while rows are inserted or removed around it (offset cursors would shift), and a cursor minted for one
order is refused by another.
"""

from __future__ import annotations

import base64
import dataclasses
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast, get_args, get_type_hints

import strawberry
from sqlalchemy import BigInteger, DateTime, Integer, Row, SmallInteger, String
from sqlalchemy.dialects.postgresql import UUID
from strawberry.relay import PageInfo
from strawberry.types import Info as StrawberryInfo

from graph.errors import bad_input
from loaders.base import ConnectionLoaders
from loaders.pagination import Order, Page, PageRequest

if TYPE_CHECKING:
    from loaders import Loaders

DEFAULT_PAGE = 50
MAX_PAGE = 100

NodeT = TypeVar("NodeT")


def _json_value(value: datetime | uuid.UUID) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def encode_cursor(order: Order, row: Row[Any]) -> str:
    values = [getattr(row, key.name) for key in order.keys]
    # Text keys (a filename, an agent's name) as UTF-8, as PostgreSQL's `to_json` prints them: the compiled
    # reads (graph/compiled/sql.py) print the same cursors. Cursors printed with escapes still decode.
    raw = json.dumps([order.name, values], separators=(",", ":"), default=_json_value, ensure_ascii=False).encode()
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


FilterInputT = TypeVar("FilterInputT")


def order_enum(name: str, orders: Mapping[str, Order]) -> type[Enum]:
    """A list's `orderBy` enum: one value for each order its loaders know, under the same name."""
    order: type[Enum] = Enum(name, [(key, key) for key in orders])  # type: ignore[misc]
    return strawberry.enum(order)


ConnectionBuilder = Callable[
    [Any, uuid.UUID, int | None, str | None, int | None, str | None, Any, Any], Awaitable["Connection[Any]"]
]


@dataclass(frozen=True)
class ListArguments(Generic[NodeT, FilterInputT]):
    """What a connection field shows of a list: its node type, its filter input and its default order (a
    member of its order enum): `orderBy: X! = DEFAULT`, or with `order_required=False` `orderBy: X = null`,
    meaning the default."""

    node: type[NodeT]
    filter_input: type[FilterInputT]
    default_order: Enum
    order_required: bool = dataclasses.field(default=True, kw_only=True)

    @property
    def order(self) -> type[Enum]:
        return type(self.default_order)


@dataclass(frozen=True)
class Listing(ListArguments[NodeT, FilterInputT]):
    """A list answered through the keyset loaders: also what its filter input means to them and their
    orders by name."""

    to_filter: Callable[[FilterInputT | None], Hashable]
    orders: Mapping[str, Order]

    def field(self, loaders: Callable[[Loaders], ConnectionLoaders], description: str) -> Any:
        """A parent's connection field over the lists `loaders` picks, keyed by the parent's `pk`."""
        return connection_field(self, self.builder(loaders), description=description)

    def builder(self, loaders: Callable[[Loaders], ConnectionLoaders]) -> ConnectionBuilder:
        """filter -> page request -> one batched page load, for the lists `loaders` picks."""
        build_node = cast("Callable[[Row[Any]], NodeT]", self.node.from_row)  # type: ignore[attr-defined]

        async def build(
            info: Any,
            parent_id: uuid.UUID,
            first: int | None,
            after: str | None,
            last: int | None,
            before: str | None,
            filter: FilterInputT | None,
            order_by: Enum | None,
        ) -> Connection[NodeT]:
            order = self.orders[(order_by or self.default_order).value]
            request = page_request(
                order, first=first, after=after, last=last, before=before, filters=self.to_filter(filter)
            )
            return await load_connection(loaders(info.context.loaders), parent_id, request, build_node)

        return build


def connection_field(
    listing: ListArguments[Any, Any],
    build: ConnectionBuilder,
    *,
    description: str,
    parent_id: Callable[[Any, Any], uuid.UUID | None] = lambda root, info: root.pk,
    nullable: bool = False,
) -> Any:
    """A connection field with the arguments every list takes (`first/after/last/before`, `filter`,
    `orderBy`), answered by `build` for the parent `parent_id(root, info)` (the parent object's key by
    default); a nullable field answers null where there is no parent (e.g. for an anonymous viewer)."""
    order_default: Enum | None = listing.default_order if listing.order_required else None

    async def resolve(root: Any, info: Any, **arguments: Any) -> Connection[Any] | None:
        parent = parent_id(root, info)
        if parent is None:
            return None
        return await build(
            info,
            parent,
            arguments.get("first"),
            arguments.get("after"),
            arguments.get("last"),
            arguments.get("before"),
            arguments.get("filter"),
            arguments.get("order_by", order_default),
        )

    answer: Any = Connection[listing.node]  # type: ignore[name-defined]
    resolve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            *_page_parameters(),
            _keyword("filter", listing.filter_input | None),
            _keyword("order_by", listing.order if listing.order_required else listing.order | None, order_default),
        ],
        return_annotation=answer | None if nullable else answer,
    )
    return strawberry.field(resolver=resolve, description=description)


def _enum_in(hint: Any) -> type[Enum] | None:
    """The enum a field's type names (alone or in a union with None)."""
    return next((arg for arg in get_args(hint) or (hint,) if isinstance(arg, type) and issubclass(arg, Enum)), None)


def _read(enum: type[Enum] | None) -> Callable[[Any], Any]:
    if enum is None:
        return lambda value: value
    return lambda value: enum(value) if value else None


class HistoryEntry:
    """A line of a parent's history (`history_field`), built from its row: each field is the column of the
    same name, and a field typed with an enum reads the column's text as that enum (an empty one as null)."""

    @classmethod
    def from_row(cls, row: Any) -> Self:
        readers = _readers.get(cls)
        if readers is None:
            hints = get_type_hints(cls)
            readers = _readers[cls] = [(name, _read(_enum_in(hint))) for name, hint in hints.items()]
        return cls(**{name: read(getattr(row, name)) for name, read in readers})


_readers: dict[type, list[tuple[str, Callable[[Any], Any]]]] = {}


def history_field(
    node: type[HistoryEntry], order: Order, loaders: Callable[[Loaders], ConnectionLoaders], *, description: str
) -> Any:
    """A list in one fixed order with only the page arguments: a record of what happened to its parent
    (a task's log, a document's processing, an integration's token refreshes), keyed by the parent's `pk`."""
    build_node = cast("Callable[[Row[Any]], Any]", node.from_row)

    async def resolve(root: Any, info: Any, **arguments: Any) -> Connection[Any]:
        request = page_request(order, **arguments)
        return await load_connection(loaders(info.context.loaders), root.pk, request, build_node)

    resolve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        _page_parameters(),
        return_annotation=Connection[node],  # type: ignore[valid-type]
    )
    return strawberry.field(resolver=resolve, description=description)


def _keyword(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _page_parameters() -> list[inspect.Parameter]:
    """`root`, `info` and the page arguments every list takes, as a resolver's signature spells them."""
    return [
        inspect.Parameter("root", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("info", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=StrawberryInfo),
        _keyword("first", int | None),
        _keyword("after", str | None),
        _keyword("last", int | None),
        _keyword("before", str | None),
    ]
