"""The Relay `Node` interface, global IDs, and `node`/`nodes` resolution.

Global IDs are strawberry.relay's encoding (base64 of `Type:uuid`). Each node type stores its global
id as a plain attribute computed when the object is built, so `id` costs no resolver call per object.
"""

from __future__ import annotations

import dataclasses
import uuid
from base64 import b64encode
from collections.abc import Awaitable, Callable, Sequence
from operator import attrgetter
from typing import Any, Self, TypeVar

import strawberry
from graphql import GraphQLError
from sqlmodel import SQLModel
from strawberry.relay import from_base64
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from graph.errors import bad_input
from models.base import column_values

MAX_NODES = 100
NodeT = TypeVar("NodeT")


@strawberry.interface(name="Node", description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(description="The globally unique ID of this object.")

    @classmethod
    def from_row(cls, row: Any) -> Self:
        """The node of a row (a Core row or a model), by the type's declared `COLUMNS`."""
        return build(cls, cls.__strawberry_definition__.name, row)  # type: ignore[attr-defined,no-any-return]


def global_id(type_name: str, pk: uuid.UUID) -> str:
    """Same encoding as strawberry.relay's `to_base64`, without its type dispatch (runs per object)."""
    return b64encode(f"{type_name}:{pk}".encode()).decode()


def decode_global_id(value: str, *, field: str = "id") -> tuple[str, uuid.UUID | None]:
    """(type name, primary key). A malformed ID is a client error; a well-formed ID whose key is not a
    UUID cannot name any object, so it decodes to None (answered as an unknown node)."""
    try:
        type_name, raw = from_base64(value)
    except Exception:
        raise bad_input(f"`{field}` is not a valid ID.") from None
    if not type_name:
        raise bad_input(f"`{field}` is not a valid ID.")
    try:
        return type_name, uuid.UUID(raw)
    except ValueError:
        return type_name, None


def expect_id(value: str, type_name: str, *, field: str) -> uuid.UUID | None:
    """The primary key of an ID that must name a `type_name`; None when it names something else."""
    decoded_type, pk = decode_global_id(value, field=field)
    return pk if decoded_type == type_name else None


def input_id(value: str | None, type_name: str) -> uuid.UUID | None:
    """The primary key an input ID names, or None when it names nothing of that type (a use case
    answers NOT_FOUND for it, exactly as for someone else's object)."""
    if value is None:
        return None
    try:
        decoded_type, pk = decode_global_id(value)
    except GraphQLError:
        return None
    return pk if decoded_type == type_name else None


NodeFetcher = Callable[[Info, Sequence[uuid.UUID]], Awaitable[list[Any]]]
_fetchers: dict[str, NodeFetcher] = {}


async def load_node(node: type[NodeT], loader: Any, key: uuid.UUID | None) -> NodeT | None:
    """A relation field's node: the row `loader` (a per-request loader by id) has for `key`, or None."""
    row = await loader.load(key) if key is not None else None
    return node.from_row(row) if row is not None else None  # type: ignore[attr-defined]


def register_node(type_name: str, fetcher: NodeFetcher) -> None:
    _fetchers[type_name] = fetcher


def register_node_type(node: type[Node], by_id: Callable[[Any], Any]) -> None:
    """`node(id:)`/`nodes(ids:)` answer `node`'s global IDs through the per-request loader `by_id(loaders)`
    picks (one result per key, None where the viewer may not see it)."""

    async def fetch(info: Info, pks: Sequence[uuid.UUID]) -> list[Any]:
        rows = await by_id(info.context.loaders).load_many(pks)
        return [node.from_row(row) if row is not None else None for row in rows]

    register_node(node.__strawberry_definition__.name, fetch)  # type: ignore[attr-defined]


async def fetch_nodes(info: Info, type_name: str, pks: Sequence[uuid.UUID]) -> list[Any]:
    """The objects of `type_name` by key, in key order (None where the viewer may not see one)."""
    return await _fetchers[type_name](info, pks)


async def resolve_nodes(info: Info, ids: Sequence[str], *, argument: str = "ids") -> list[Any]:
    if len(ids) > MAX_NODES:
        raise bad_input(f"`ids` takes at most {MAX_NODES} IDs.")
    decoded = [decode_global_id(value, field=argument) for value in ids]
    # Each distinct ID is loaded and built once; a repeated ID answers with the same object.
    wanted: dict[str, dict[uuid.UUID, None]] = {}
    for type_name, pk in decoded:
        if pk is not None and type_name in _fetchers:
            wanted.setdefault(type_name, {})[pk] = None
    found: dict[tuple[str, uuid.UUID], Any] = {}
    for type_name, unique in wanted.items():
        pks = list(unique)
        for pk, obj in zip(pks, await _fetchers[type_name](info, pks), strict=True):
            if obj is not None:
                found[(type_name, pk)] = obj
    return [found.get((type_name, pk)) if pk is not None else None for type_name, pk in decoded]


def columns(*names: str, **renamed: str) -> dict[str, str]:
    """Field-to-column mapping of a node type: `columns("title", metadata="meta")` maps the field
    `title` to the column attribute `title` and the field `metadata` to `meta`. `node_columns` is the
    one place a later whole-selection SQL fast path reads to know which column serves which field."""
    return {**{name: name for name in names}, **renamed}


class FieldColumns(dict[str, str]):
    """Columns named like the node type's own fields, but for the ones renamed here."""


def field_columns(**renamed: str) -> FieldColumns:
    """Every stored field of the node type (its fields without a resolver, private ones included, but
    `id` and `pk`) is the column of the same name, or the one `renamed` gives (`raw_metadata="metadata"`)."""
    return FieldColumns(renamed)


def node_columns(cls: type[Any]) -> dict[str, str]:
    declared: dict[str, str] = cls.COLUMNS
    if not isinstance(declared, FieldColumns):
        return declared
    stored = [
        field.name
        for field in dataclasses.fields(cls)
        if field.name not in ("id", "pk")
        and not (isinstance(field, StrawberryField) and field.base_resolver is not None)
    ]
    return {name: declared.get(name, name) for name in stored}


def build(cls: type[Any], type_name: str, row: Any) -> Any:
    """A node type instance from a row (a Core row or a model), by its columns (`node_columns`), which
    name columns as the database does."""
    if isinstance(row, SQLModel):
        row = column_values(row)
    getter = _getters.get(cls)
    if getter is None:
        mapping = node_columns(cls)
        getter = _getters[cls] = (tuple(mapping), attrgetter(*mapping.values()))
    fields, read = getter
    pk = row.id
    return cls(id=b64encode(f"{type_name}:{pk}".encode()).decode(), pk=pk, **dict(zip(fields, read(row), strict=False)))


_getters: dict[type, tuple[tuple[str, ...], Any]] = {}
