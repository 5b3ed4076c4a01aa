"""`node(id:)` and `nodes(ids:)` compiled, for the node types whose visibility the SQL writes (sessions and
messages). An ID that does not decode, too many IDs, or an ID of another node type (which needs its own
fetcher) leaves the field to its resolver, so the answer and its errors are the resolver's."""

from __future__ import annotations

import uuid
from typing import Any

from graphql import GraphQLError, GraphQLField, GraphQLObjectType, GraphQLSchema
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values

from graph.compiled.plan import Collect, ObjectPlan, plan_object
from graph.compiled.sql import Compiled, document, nodes_statement
from graph.input_limits import DEFAULT_MAX_LENGTH
from graph.node import MAX_NODES, decode_global_id

COMPILED_NODES = ("ChatSession", "Message")


def compile_nodes(
    collect: Collect,
    schema: GraphQLSchema,
    definition: GraphQLField,
    details: FieldDetailsList,
    variables: Any,
) -> Compiled | None:
    many = details[0].node.name.value == "nodes"
    try:
        arguments = get_argument_values(definition, details[0].node, variables)
    except GraphQLError:
        return None
    ids = arguments.get("ids") if many else [arguments.get("id")]
    if not isinstance(ids, list) or len(ids) > MAX_NODES:
        return None
    items: list[tuple[ObjectPlan, uuid.UUID] | None] = []
    plans: dict[str, ObjectPlan] = {}
    for value in ids:
        if not isinstance(value, str) or len(value) > DEFAULT_MAX_LENGTH or "\x00" in value:
            return None
        try:
            type_name, pk = decode_global_id(value, field="ids" if many else "id")
        except GraphQLError:
            return None
        node_type = schema.get_type(type_name)
        if (
            pk is None
            or not isinstance(node_type, GraphQLObjectType)
            or "Node" not in (interface.name for interface in node_type.interfaces)
        ):
            items.append(None)  # names no object: null, as the resolver answers
            continue
        if type_name not in COMPILED_NODES:
            return None
        plan = plans.get(type_name)
        if plan is None:
            found = plan_object(collect, node_type, details, variables)
            if found is None:
                return None
            plan = plans[type_name] = found
        items.append((plan, pk))
    if not items:
        return document("'[]'")
    return nodes_statement(items, many=many)
