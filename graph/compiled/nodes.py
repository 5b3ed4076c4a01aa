"""The compiled root reads: `viewer`, `node(id:)`/`nodes(ids:)`, and a connection of a parent the resolvers
already answered. Rows are read by the loaders' rules (graph/compiled/tables.py): a node is null where its
loader by id would find nothing. An ID that does not decode, too many IDs, or an ID of a type the compiler
does not know leaves `node`/`nodes` to the resolver, so the answer and its errors are the resolver's. An ID
of a type whose resolver answers it from a cache (`CACHED_BY_ID`) leaves `node` to the resolver; in `nodes`
the statement answers the other IDs and the resolver's fetcher those (`Partly`, graph/compiled/execution.py)."""

from __future__ import annotations

import uuid

from graphql import GraphQLError, GraphQLField, GraphQLObjectType
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values

from graph.compiled.plan import ConnectionPlan, ObjectPlan, Reading, plan_object
from graph.compiled.sql import connection, visible_object
from graph.compiled.statement import SUBJECT, VIEWER, VIEWER_STAND_IN, Compiled, Partly, Statement, document
from graph.compiled.tables import CACHED_BY_ID, TABLES
from graph.input_limits import DEFAULT_MAX_LENGTH
from graph.node import MAX_NODES, decode_global_id
from loaders import visibility


def viewer_statement(plan: ObjectPlan) -> Compiled:
    """`viewer`: the signed-in user's row while the account is not deleted (loaders/visibility.py)."""
    statement = Statement()
    return document(visible_object(statement, plan, TABLES["User"], statement.bind(VIEWER, "uuid")), statement)


def connection_statement(plan: ConnectionPlan) -> Compiled:
    """A connection of a parent the resolvers already answered (so already visible to the viewer)."""
    statement = Statement()
    parent = statement.bind(SUBJECT, "uuid")
    return document(connection(statement, plan, parent), statement)


def compile_nodes(reading: Reading, definition: GraphQLField, details: FieldDetailsList) -> Compiled | Partly | None:
    many = details[0].node.name.value == "nodes"
    try:
        arguments = get_argument_values(definition, details[0].node, reading.variables)
    except GraphQLError:
        return None
    ids = arguments.get("ids") if many else [arguments.get("id")]
    if not isinstance(ids, list) or len(ids) > MAX_NODES:
        return None
    items: list[tuple[ObjectPlan, uuid.UUID] | None] = []
    resolved: list[tuple[int, str, uuid.UUID]] = []  # IDs of `nodes` answered by their cached resolver
    plans: dict[str, ObjectPlan] = {}
    for value in ids:
        if not isinstance(value, str) or len(value) > DEFAULT_MAX_LENGTH or "\x00" in value:
            return None
        try:
            type_name, pk = decode_global_id(value, field="ids" if many else "id")
        except GraphQLError:
            return None
        node_type = reading.schema.get_type(type_name)
        if (
            pk is None
            or not isinstance(node_type, GraphQLObjectType)
            or "Node" not in (interface.name for interface in node_type.interfaces)
        ):
            items.append(None)  # names no object: null, as the resolver answers
            continue
        if type_name in CACHED_BY_ID and many:
            resolved.append((len(items), type_name, pk))
            items.append(None)
            continue
        if type_name not in TABLES or type_name in CACHED_BY_ID:
            return None
        plan = plans.get(type_name)
        if plan is None:
            found = plan_object(reading, node_type, details)
            if found is None:
                return None
            plan = plans[type_name] = found
        items.append((plan, pk))
    if not items:
        return document("'[]'")
    if resolved:
        if not any(items):
            return None  # nothing for the statement: the resolver answers the whole field
        return Partly(items_statement(items), tuple(resolved))
    return nodes_statement(items, many=many)


def nodes_statement(items: list[tuple[ObjectPlan, uuid.UUID] | None], *, many: bool) -> Compiled:
    """One value per ID, in order: the node's JSON, or null where it is unknown or not the viewer's. These
    fields take the account check with them (graph/permissions.py): a deleted account's token acts as none,
    every ID answers null. The account condition names no row: PostgreSQL evaluates it once."""
    statement = Statement()
    values = _values(statement, items)
    return document(f"array_to_json(ARRAY[{', '.join(values)}]::json[])" if many else values[0], statement)


def items_statement(items: list[tuple[ObjectPlan, uuid.UUID] | None]) -> Compiled:
    """As `nodes_statement`, but an array of each item's JSON as UTF-8 bytes (`bytea[]`), so the items the
    resolver answers can be set among them and the others spliced as they are."""
    statement = Statement()
    values = [f"convert_to(({value})::text, 'UTF8')" for value in _values(statement, items)]
    return f"SELECT ARRAY[{', '.join(values)}]::bytea[]", tuple(statement.params)


def _values(statement: Statement, items: list[tuple[ObjectPlan, uuid.UUID] | None]) -> list[str]:
    values = []
    for item in items:
        if item is None:
            values.append("'null'::json")
            continue
        plan, pk = item
        values.append(visible_object(statement, plan, plan.table, statement.bind(pk, "uuid")))
    if any(items):
        account = statement.rows(visibility.visible_users(VIEWER_STAND_IN, visibility.users.c.id))
        values = [f"CASE WHEN EXISTS ({account}) THEN {value} ELSE 'null'::json END" for value in values]
    return values
