"""Selection -> plan: what a compiled read selects, or None when any part of it needs a resolver.

A plan mirrors the response: objects of rows (a node type's column fields, `id`, `__typename`), their
to-one relations (an object or null) and connections (edges, cursors, `pageInfo`, `totalCount`, `nodes`).
Arguments are read as the resolver path reads them (graph/compiled/arguments.py); an argument it refuses
makes the field fall back, so the resolver path answers the exact error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
)
from graphql.execution.collect_fields import FieldDetailsList

from graph.compiled.arguments import list_read
from graph.compiled.tables import CONNECTIONS, RELATIONS, TABLES, ConnectionSpec, RelationSpec, TableSpec
from loaders.pagination import PageRequest, PageSpec

# A selection set larger than this, or with a key longer than a PostgreSQL name (63 bytes: keys are column
# names in sql.py), stays with the resolvers.
MAX_ENTRIES = 50
MAX_KEY_BYTES = 63


def _oversized(grouped: Mapping[str, FieldDetailsList]) -> bool:
    return len(grouped) > MAX_ENTRIES or any(len(key.encode()) > MAX_KEY_BYTES for key in grouped)


# Collects a field's sub-selection on its (object) type: key -> the field nodes merged under it, or None
# when the selection cannot be collected plainly (`@defer`).
Collect = Callable[[GraphQLObjectType, FieldDetailsList], "Mapping[str, FieldDetailsList] | None"]


@dataclass(frozen=True)
class Reading:
    """What planning reads a selection with: the operation's schema and variables, and its field collector."""

    schema: GraphQLSchema
    collect: Collect
    variables: Any


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
    fields: tuple[Value | Constant | ConnectionPlan | RelationPlan, ...]


@dataclass(frozen=True)
class RelationPlan:
    key: str
    spec: RelationSpec
    node: ObjectPlan


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
    request: PageRequest
    rows: PageSpec
    parts: tuple[PagePart, ...]


def _named(type_: GraphQLOutputType) -> GraphQLOutputType:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _value(key: str, column: str, type_: GraphQLOutputType) -> Value | None:
    named = _named(type_)
    if isinstance(named, GraphQLList):
        # A list of scalars is an array column, printed as a JSON array (`[String!]`: tags, scopes).
        item = _named(named.of_type)
        scalar = isinstance(item, GraphQLScalarType) and item.name in ("String", "Int", "Boolean")
        return Value(key, column, "json") if scalar else None
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


def plan_object(reading: Reading, type_: GraphQLObjectType, details: FieldDetailsList) -> ObjectPlan | None:
    table = TABLES.get(type_.name)
    grouped = reading.collect(type_, details)
    if table is None or grouped is None or _oversized(grouped):
        return None
    fields: list[Value | Constant | ConnectionPlan | RelationPlan] = []
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
        entry = _entry(reading, type_, table, key, name, definition, field_details)
        if entry is None:
            return None
        fields.append(entry)
    return ObjectPlan(table, tuple(fields))


def _entry(
    reading: Reading,
    type_: GraphQLObjectType,
    table: TableSpec,
    key: str,
    name: str,
    definition: GraphQLField,
    details: FieldDetailsList,
) -> Value | ConnectionPlan | RelationPlan | None:
    spec = CONNECTIONS.get((type_.name, name))
    if spec is not None:
        return plan_connection(reading, definition, details, spec, key)
    relation = RELATIONS.get((type_.name, name))
    if relation is not None:
        target = reading.schema.get_type(relation.target)
        if details[0].node.arguments or not isinstance(target, GraphQLObjectType):
            return None
        node = plan_object(reading, target, details)
        return RelationPlan(key, relation, node) if node is not None else None
    column = table.columns.get(name)
    if column is None or details[0].node.arguments:
        return None
    return _value(key, column, definition.type)


def plan_connection(
    reading: Reading, definition: GraphQLField, details: FieldDetailsList, spec: ConnectionSpec, key: str
) -> ConnectionPlan | None:
    connection_type = _named(definition.type)
    if not isinstance(connection_type, GraphQLObjectType):
        return None
    read = list_read(reading.schema, definition, details, reading.variables, spec)
    grouped = reading.collect(connection_type, details)
    if read is None or grouped is None or _oversized(grouped):
        return None
    parts: list[PagePart] = []
    for part_key, part_details in grouped.items():
        name = part_details[0].node.name.value
        if name == "__typename":
            parts.append(PagePart(part_key, "typename", parts=(Constant(part_key, connection_type.name),)))
        elif name == "totalCount":
            parts.append(PagePart(part_key, "totalCount"))
        elif name in ("edges", "nodes", "pageInfo"):
            part = _page_part(reading, connection_type, name, part_key, part_details)
            if part is None:
                return None
            parts.append(part)
        else:
            return None
    return ConnectionPlan(key, read.request, read.rows, tuple(parts))


def _page_part(
    reading: Reading, connection_type: GraphQLObjectType, name: str, key: str, details: FieldDetailsList
) -> PagePart | None:
    item_type = _item_type(connection_type.fields[name].type)
    if item_type is None:
        return None
    if name == "nodes":
        node = plan_object(reading, item_type, details)
        return PagePart(key, "nodes", node=node) if node is not None else None
    grouped = reading.collect(item_type, details)
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
            node_plan = plan_object(reading, node_type, entry_details)
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
