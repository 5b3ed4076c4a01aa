"""The Relay `Node` interface, global IDs, and `node`/`nodes` resolution.

Global IDs are strawberry.relay's encoding (base64 of `Type:uuid`). Each node type stores its global
id as a plain attribute computed when the object is built, so `id` costs no resolver call per object.
"""

from __future__ import annotations

import uuid
from base64 import b64encode
from collections.abc import Awaitable, Callable, Sequence
from operator import attrgetter
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlmodel import SQLModel
from strawberry.relay import from_base64
from strawberry.types import Info

from graph.errors import bad_input
from models.base import column_values

MAX_NODES = 100


@strawberry.interface(name="Node", description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(description="The globally unique ID of this object.")


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


def register_node(type_name: str, fetcher: NodeFetcher) -> None:
    _fetchers[type_name] = fetcher


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
    `title` to the column attribute `title` and the field `metadata` to `meta`. This is the one place a
    later whole-selection SQL fast path reads to know which column serves which field."""
    return {**{name: name for name in names}, **renamed}


def build(cls: type[Any], type_name: str, row: Any) -> Any:
    """A node type instance from a row (a Core row or a model), by its declared `COLUMNS`, which name
    columns as the database does."""
    if isinstance(row, SQLModel):
        row = column_values(row)
    getter = _getters.get(cls)
    if getter is None:
        getter = _getters[cls] = (tuple(cls.COLUMNS), attrgetter(*cls.COLUMNS.values()))
    fields, read = getter
    pk = row.id
    return cls(id=b64encode(f"{type_name}:{pk}".encode()).decode(), pk=pk, **dict(zip(fields, read(row), strict=False)))


_getters: dict[type, tuple[tuple[str, ...], Any]] = {}
