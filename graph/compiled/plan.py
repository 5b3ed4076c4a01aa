"""Selection -> plan: what a compiled read selects, or None when any part of it needs a resolver.

A plan mirrors the response: objects of rows (a node type's column fields, `id`, `__typename`) and
owned connections (edges, cursors, `pageInfo`, `totalCount`, `nodes`). Arguments go through the same
checks as the resolver path (graph/connection.py's `page_request`, graph/input_limits.py's sizes); an
argument the checks refuse makes the field fall back, so the resolver path answers the exact error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values

from graph.compiled.tables import CONNECTIONS, TABLES, ConnectionSpec, TableSpec
from graph.connection import page_request
from graph.input_limits import DEFAULT_MAX_LENGTH, MAX_LIST_ITEMS
from loaders.pagination import PageRequest

# Collects a field's sub-selection on its (object) type: key -> the field nodes merged under it, or None
# when the selection cannot be collected plainly (`@defer`).
# A selection set larger than this, or with a key longer than a PostgreSQL name (63 bytes: keys are column
# names in sql.py), stays with the resolvers.
MAX_ENTRIES = 50
MAX_KEY_BYTES = 63


def _oversized(grouped: Mapping[str, FieldDetailsList]) -> bool:
    return len(grouped) > MAX_ENTRIES or any(len(key.encode()) > MAX_KEY_BYTES for key in grouped)


Collect = Callable[[GraphQLObjectType, FieldDetailsList], "Mapping[str, FieldDetailsList] | None"]


@dataclass(frozen=True)
class Value:
    """A column (or the global ID) printed as the schema serializes it."""

    key: str
    column: str
    kind: str  # "json" | "datetime" | "id" | "enum"
    enum: tuple[tuple[str, str], ...] = ()  # stored value -> GraphQL name


@dataclass(frozen=True)
class Constant:
    key: str
    value: str


@dataclass(frozen=True)
class ObjectPlan:
    table: TableSpec
    fields: tuple[Value | Constant | ConnectionPlan, ...]


@dataclass(frozen=True)
class PagePart:
    """One entry of a connection's selection: `edges`, `nodes`, `pageInfo`, `totalCount`, `__typename`."""

    key: str
    kind: str
    node: ObjectPlan | None = None
    parts: tuple[Constant | Value, ...] = ()  # an edge's or a pageInfo's own entries (Value.column: the name)


@dataclass(frozen=True)
class ConnectionPlan:
    key: str
    spec: ConnectionSpec
    request: PageRequest
    filter_values: tuple[str, ...]
    parts: tuple[PagePart, ...]


def _named(type_: GraphQLOutputType) -> GraphQLOutputType:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _value(key: str, column: str, type_: GraphQLOutputType) -> Value | None:
    named = _named(type_)
    if isinstance(named, GraphQLEnumType):
        pairs = []
        for name, definition in named.values.items():
            stored = definition.value.value if isinstance(definition.value, Enum) else definition.value
            pairs.append((str(stored), name))
        return Value(key, column, "enum", tuple(pairs))
    if isinstance(named, GraphQLScalarType):
        if named.name == "DateTime":
            return Value(key, column, "datetime")
        if named.name in ("String", "Int", "Boolean", "Float"):
            return Value(key, column, "json")
    return None


def plan_object(
    collect: Collect, type_: GraphQLObjectType, details: FieldDetailsList, variables: Any
) -> ObjectPlan | None:
    table = TABLES.get(type_.name)
    grouped = collect(type_, details)
    if table is None or grouped is None or _oversized(grouped):
        return None
    fields: list[Value | Constant | ConnectionPlan] = []
    for key, field_details in grouped.items():
        name = field_details[0].node.name.value
        if name == "__typename":
            fields.append(Constant(key, type_.name))
            continue
        if name == "id":
            fields.append(Value(key, "id", "id"))
            continue
        definition = type_.fields.get(name)
        if definition is None:
            return None
        spec = CONNECTIONS.get((type_.name, name))
        if spec is not None:
            connection = plan_connection(collect, definition, field_details, variables, spec, key)
            if connection is None:
                return None
            fields.append(connection)
            continue
        column = table.columns.get(name)
        value = (
            _value(key, column, definition.type) if column is not None and not field_details[0].node.arguments else None
        )
        if value is None:
            return None
        fields.append(value)
    return ObjectPlan(table, tuple(fields))


def _request(spec: ConnectionSpec, arguments: dict[str, Any]) -> tuple[PageRequest, tuple[str, ...]] | None:
    for cursor in (arguments.get("after"), arguments.get("before")):
        if cursor is not None and (len(cursor) > DEFAULT_MAX_LENGTH or "\x00" in cursor):
            return None  # refused at the door on the resolver path
    raw_filter = arguments.get("filter")
    listed = raw_filter.get(spec.filter_field) if isinstance(raw_filter, dict) else None
    if listed is not None and len(listed) > MAX_LIST_ITEMS:
        return None
    values = tuple(sorted({item.value if isinstance(item, Enum) else str(item) for item in listed or ()}))
    order_by = arguments.get("orderBy")
    order_name = order_by.value if isinstance(order_by, Enum) else order_by
    order = spec.orders.get(order_name) if order_name is not None else spec.orders[spec.default_order]
    if order is None:
        return None
    try:
        request = page_request(
            order,
            first=arguments.get("first"),
            after=arguments.get("after"),
            last=arguments.get("last"),
            before=arguments.get("before"),
        )
    except GraphQLError:
        return None
    return request, values


def plan_connection(
    collect: Collect,
    definition: GraphQLField,
    details: FieldDetailsList,
    variables: Any,
    spec: ConnectionSpec,
    key: str,
) -> ConnectionPlan | None:
    connection_type = _named(definition.type)
    if not isinstance(connection_type, GraphQLObjectType):
        return None
    try:
        arguments = get_argument_values(definition, details[0].node, variables)
    except GraphQLError:
        return None
    requested = _request(spec, arguments)
    grouped = collect(connection_type, details)
    if requested is None or grouped is None or _oversized(grouped):
        return None
    parts: list[PagePart] = []
    for part_key, part_details in grouped.items():
        name = part_details[0].node.name.value
        if name == "__typename":
            parts.append(PagePart(part_key, "typename", parts=(Constant(part_key, connection_type.name),)))
        elif name == "totalCount":
            parts.append(PagePart(part_key, "totalCount"))
        elif name in ("edges", "nodes", "pageInfo"):
            part = _page_part(collect, connection_type, name, part_key, part_details, variables)
            if part is None:
                return None
            parts.append(part)
        else:
            return None
    return ConnectionPlan(key, spec, requested[0], requested[1], tuple(parts))


def _page_part(
    collect: Collect, connection_type: GraphQLObjectType, name: str, key: str, details: FieldDetailsList, variables: Any
) -> PagePart | None:
    item_type = _item_type(connection_type.fields[name].type)
    if item_type is None:
        return None
    if name == "nodes":
        node = plan_object(collect, item_type, details, variables)
        return PagePart(key, "nodes", node=node) if node is not None else None
    grouped = collect(item_type, details)
    if grouped is None or _oversized(grouped):
        return None
    entries: list[Constant | Value] = []
    node_plan: ObjectPlan | None = None
    for entry_key, entry_details in grouped.items():
        entry = entry_details[0].node.name.value
        if entry == "__typename":
            entries.append(Constant(entry_key, item_type.name))
        elif name == "edges" and entry == "node":
            node_type = _item_type(item_type.fields["node"].type)
            if node_plan is not None or node_type is None:
                return None  # two aliases of `node` in one edge: left to the resolvers
            node_plan = plan_object(collect, node_type, entry_details, variables)
            if node_plan is None:
                return None
            entries.append(Value(entry_key, "node", "node"))
        elif (name == "edges" and entry == "cursor") or (
            name == "pageInfo" and entry in ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
        ):
            entries.append(Value(entry_key, entry, "page"))
        else:
            return None
    return PagePart(key, name, node=node_plan, parts=tuple(entries))


def _item_type(type_: GraphQLOutputType) -> GraphQLObjectType | None:
    named: Any = type_
    while hasattr(named, "of_type"):
        named = named.of_type
    return named if isinstance(named, GraphQLObjectType) else None
