"""A compiled field's arguments, read exactly as its resolver receives them: graphql-core's coercion,
strawberry's conversion (inputs become their classes), the field's `InputLimits` (graph/input_limits.py),
then the list's own reading (`Listing`: filter input -> filter, `page_request`). Whatever the resolver path
would refuse (or any field guarded by a permission of its own) leaves the field to its resolver, which
answers the exact error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLField, GraphQLSchema
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from graph.compiled.statement import VIEWER_STAND_IN
from graph.compiled.tables import ConnectionSpec
from graph.connection import page_request
from graph.input_limits import InputLimits
from loaders.pagination import PageRequest, PageSpec


def resolver_arguments(
    schema: GraphQLSchema, definition: GraphQLField, details: FieldDetailsList, variables: Any
) -> dict[str, Any] | None:
    field = (definition.extensions or {}).get("strawberry-definition")
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    if not isinstance(field, StrawberryField) or strawberry_schema is None or field.permission_classes:
        return None
    try:
        raw = get_argument_values(definition, details[0].node, variables)
        converted = convert_arguments(
            raw,
            field.arguments,
            scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            config=strawberry_schema.config,
        )
    except (GraphQLError, ValueError, TypeError):
        return None
    for extension in field.extensions:
        if isinstance(extension, InputLimits) and extension.problems(converted):
            return None
    return converted


@dataclass(frozen=True)
class ListRead:
    request: PageRequest
    rows: PageSpec  # the loaders' page spec for the filter, the viewer standing in as `VIEWER_STAND_IN`


def list_read(
    schema: GraphQLSchema, definition: GraphQLField, details: FieldDetailsList, variables: Any, spec: ConnectionSpec
) -> ListRead | None:
    arguments = resolver_arguments(schema, definition, details, variables)
    if arguments is None:
        return None
    listing = spec.listing
    order_by = arguments.get("order_by") or listing.default_order
    try:
        spec_filter = listing.to_filter(arguments.get("filter"))
        request = page_request(
            listing.orders[order_by.value],
            first=arguments.get("first"),
            after=arguments.get("after"),
            last=arguments.get("last"),
            before=arguments.get("before"),
            filters=spec_filter,
        )
    except GraphQLError:
        return None
    return ListRead(request, spec.rows(VIEWER_STAND_IN)(spec_filter))
