"""Static query cost: how many objects an operation can build, known before anything runs.

Depth, alias and token limits bound a document's size, not its work: `nodes(ids: [x x 10]) { messages(first:
100) { nodes { session { messages(first: 100) ... } } } }` is small and builds 100,000 objects. The cost
is an upper bound on the objects the execution builds, computed from the validated document, the
schema and the variables, with the same page sizes the resolvers will use:

- the root object and every object a field returns count 1 each (a `pageInfo`, a payload, a nested
  `extractedData`, a `Message.session`);
- a connection field counts 1 for the connection and its page size for the rows it loads (`first` or
  `last`, clamped to 0..MAX_PAGE; DEFAULT_PAGE when absent), whether or not `edges`/`nodes` are
  selected, because the page is built whole; what is selected under `edges`/`nodes` is counted once
  per row (an edge and its node are one row, so `edges { node }` costs what `nodes` costs);
- a list field with an `ids` argument (`nodes(ids:)`) counts one object per ID (duplicates too: each
  position is resolved and its selection executed), at most MAX_NODES;
- other lists of objects are parts of one row (JSON: attachments, capabilities, entities...): counted
  as EMBEDDED_LIST objects, an estimate, since the data decides their length;
- scalar and enum fields cost nothing: the objects bound the work, and graphql-core merges repeated
  fields, so the fields per object are bounded by the type (plus at most `GATEWAY_MAX_ALIASES`);
- introspection (`__schema`, `__type`) counts 1: it reads the in-memory schema, is bounded by the
  depth limit and is off in production.
`@skip`/`@include` are ignored (the bound holds either way). For an interface or union position the
costliest possible type counts. Costs are memoised per (type, merged selection), so fragments spread
in many places cost their size once, however deep the nesting.

Pure: needs only a graphql-core schema and document; no database, no Redis.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    get_operation_ast,
    is_abstract_type,
    is_composite_type,
    is_object_type,
    value_from_ast,
)
from graphql.execution.values import get_variable_values

from graph.connection import DEFAULT_PAGE, MAX_PAGE
from graph.node import MAX_NODES

EMBEDDED_LIST = 10
PAGE_ARGUMENTS = ("first", "last")
ID_LIST_ARGUMENT = "ids"
INTROSPECTION = frozenset({"__schema", "__type"})


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """Objects the operation can build (at least 1: the root). An operation that cannot run (unknown
    name, variables that do not coerce) builds nothing beyond its root: execution refuses it first."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 1
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 1
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
    if isinstance(coerced, list):
        return 1
    return 1 + _Walk(schema, document, coerced.coerced).selection_cost(root, (operation.selection_set,), None)


def cost_variables(document: DocumentNode, operation_name: str | None = None) -> tuple[str, ...]:
    """The variables the cost can depend on: those passed to a page-size or ID-list argument (a
    superset; any field's). The rest (message text, JSON inputs) never change the cost, so a cache
    keyed on these alone serves every call of a document."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return ()
    names: set[str] = set()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            _collect_variables(definition.selection_set, names)
    return tuple(sorted(names))


def _collect_variables(selection_set: SelectionSetNode | None, names: set[str]) -> None:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            for argument in selection.arguments or ():
                if argument.name.value in (*PAGE_ARGUMENTS, ID_LIST_ARGUMENT):
                    _variables_in(argument.value, names)
        _collect_variables(getattr(selection, "selection_set", None), names)


def _variables_in(value: Any, names: set[str]) -> None:
    kind = getattr(value, "kind", None)
    if kind == "variable":
        names.add(value.name.value)
    elif kind == "list_value":
        for item in value.values:
            _variables_in(item, names)


def cost_key(variables: Mapping[str, Any] | None, names: Sequence[str]) -> tuple[Any, ...]:
    """What of the variables a cost depends on: a list counts by its length (which IDs are asked
    for does not matter), anything else by its value when hashable."""
    values = variables or {}
    key: list[Any] = []
    for name in names:
        value = values.get(name, Undefined)
        if isinstance(value, list):
            key.append(("len", len(value)))
        elif value is Undefined or isinstance(value, int | float | str | bool | None):
            key.append(("value", repr(value)))
        else:
            key.append(("other", repr(type(value))))  # does not coerce to a size: same as any other
    return tuple(key)


class CostCache:
    """Costs remembered per (document text, operation name, the variables that matter). Clients send
    the same few documents over and over; the walk then runs once per document and page sizes."""

    def __init__(self, maxsize: int = 1024) -> None:
        self._maxsize = maxsize
        self._names: OrderedDict[tuple[str, str | None], tuple[str, ...]] = OrderedDict()
        self._costs: OrderedDict[tuple[Any, ...], int] = OrderedDict()

    def cost(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        query: str | None,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> int:
        if query is None:
            return operation_cost(schema, document, operation_name, variables)
        names = self._remember(self._names, (query, operation_name), lambda: cost_variables(document, operation_name))
        key = (query, operation_name, cost_key(variables, names))
        return int(
            self._remember(self._costs, key, lambda: operation_cost(schema, document, operation_name, variables))
        )

    def _remember(self, cache: OrderedDict[Any, Any], key: Any, compute: Any) -> Any:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        value = cache[key] = compute()
        if len(cache) > self._maxsize:
            cache.popitem(last=False)
        return value


def _named(type_: Any) -> tuple[GraphQLNamedType, bool]:
    """The named type under non-null and list wrappers, and whether a list was among them."""
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return type_, is_list


def is_connection(type_: GraphQLNamedType) -> bool:
    return isinstance(type_, GraphQLObjectType) and {"edges", "nodes", "pageInfo"} <= type_.fields.keys()


def edge_types(schema: GraphQLSchema) -> frozenset[str]:
    """Names of the types connections list under `edges` (their `node` is the edge's own row)."""
    return frozenset(
        _named(type_.fields["edges"].type)[0].name  # type: ignore[attr-defined]
        for type_ in schema.type_map.values()
        if is_connection(type_)
    )


class _Walk:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.memo: dict[tuple[Any, ...], int] = {}
        self.edge_types = edge_types(schema)

    def selection_cost(
        self, type_: GraphQLNamedType, selection_sets: Sequence[SelectionSetNode], page: int | None
    ) -> int:
        """Cost of one object of `type_` given its selections (not counting the object itself).
        `page` is set when the object is a connection: its rows' count."""
        if is_abstract_type(type_):
            return max(
                (
                    self.selection_cost(possible, selection_sets, page)
                    for possible in self.schema.get_possible_types(type_)
                ),
                default=0,
            )
        if not is_object_type(type_):
            return 0
        assert isinstance(type_, GraphQLObjectType)
        fields = self._collect(type_, selection_sets)
        memo_key = (type_.name, page, tuple(tuple(map(id, nodes)) for nodes in fields.values()))
        cached = self.memo.get(memo_key)
        if cached is not None:
            return cached
        total = page or 0  # a connection's rows are built whatever is selected
        for nodes in fields.values():
            total += self._field_cost(type_, nodes, page)
        self.memo[memo_key] = total
        return total

    def _field_cost(self, parent: GraphQLObjectType, nodes: list[FieldNode], page: int | None) -> int:
        name = nodes[0].name.value
        if name in INTROSPECTION:
            return 1
        field = parent.fields.get(name)
        if field is None:  # `__typename`, or a field validation would have refused
            return 0
        named, is_list = _named(field.type)
        if not is_composite_type(named):
            return 0
        child_sets = [node.selection_set for node in nodes if node.selection_set is not None]
        child_page = self._page_size(field, nodes[0]) if is_connection(named) else None
        if page is not None and name in ("edges", "nodes"):
            # The rows of the page, already counted by the connection: only what they select costs.
            return page * self.selection_cost(named, child_sets, None)
        if name == "node" and parent.name in self.edge_types:
            return self.selection_cost(named, child_sets, None)  # the edge's row, counted with it
        count = self._list_length(field, nodes[0]) if is_list else 1
        return count * (1 + self.selection_cost(named, child_sets, child_page))

    def _collect(
        self, type_: GraphQLObjectType, selection_sets: Sequence[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        """Fields by response key, merged as graphql-core's execution merges them; each fragment once
        per selection (a fragment spread twice runs once)."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        pending = [selection for selection_set in selection_sets for selection in selection_set.selections]
        pending.reverse()
        while pending:
            selection = pending.pop()
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
                continue
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                condition: NamedTypeNode | None = fragment.type_condition
                inner = fragment.selection_set
            elif isinstance(selection, InlineFragmentNode):
                condition, inner = selection.type_condition, selection.selection_set
            else:
                continue
            if condition is not None and not self._applies(condition.name.value, type_):
                continue
            pending.extend(reversed(inner.selections))
        return fields

    def _applies(self, condition: str, type_: GraphQLObjectType) -> bool:
        conditional = self.schema.get_type(condition)
        if conditional is None:
            return False
        if conditional is type_:
            return True
        return is_abstract_type(conditional) and self.schema.is_sub_type(conditional, type_)

    def _argument(self, field: GraphQLField, node: FieldNode, name: str) -> Any:
        definition = field.args.get(name)
        argument = next((arg for arg in node.arguments or () if arg.name.value == name), None)
        if definition is None or argument is None:
            default = None if definition is None else definition.default_value
            return None if default is Undefined else default
        value = value_from_ast(argument.value, definition.type, self.variables)
        return None if value is Undefined else value

    def _page_size(self, field: GraphQLField, node: FieldNode) -> int:
        """The rows the connection will load: what the resolver uses, clamped to what it allows (a
        size outside 0..MAX_PAGE is refused by the resolver, so counting MAX_PAGE is an upper bound)."""
        sizes = [self._argument(field, node, name) for name in PAGE_ARGUMENTS]
        given = [size for size in sizes if isinstance(size, int)]
        if not given:
            return DEFAULT_PAGE
        return max(min(max(size, 0), MAX_PAGE) for size in given)

    def _list_length(self, field: GraphQLField, node: FieldNode) -> int:
        if ID_LIST_ARGUMENT in field.args:
            ids = self._argument(field, node, ID_LIST_ARGUMENT)
            if isinstance(ids, list):
                return min(len(ids), MAX_NODES)
            return 0 if ids is None else 1
        return EMBEDDED_LIST
