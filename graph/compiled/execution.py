"""The execution hook: a field whose whole selection compiles (graph/compiled/plan.py) is answered by one
SQL statement building its JSON (graph/compiled/sql.py), returned as a pre-encoded `orjson.Fragment` the
HTTP response splices as it is; graphql-core completes none of that subtree's fields. Any other field,
and any field whose selection does not compile, runs its resolver as before, in the same response.

Only HTTP requests compile (their responses are encoded with orjson, graph/app.py); sockets, and every
request when `GATEWAY_SQL_COMPILER` is off, take the resolver path."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from inspect import isawaitable
from typing import Any

import orjson
from graphql import GraphQLObjectType, GraphQLOutputType, GraphQLResolveInfo, OperationType
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from graph.compiled.batch import RootBatch
from graph.compiled.cache import COMPILED
from graph.compiled.nodes import compile_nodes, connection_statement, viewer_statement
from graph.compiled.plan import Reading, plan_connection, plan_object
from graph.compiled.statement import Answerable, Compiled, Partly, bind_keys
from graph.compiled.tables import CONNECTIONS, ConnectionSpec
from graph.context import Context
from graph.node import fetch_nodes
from graph.permissions import DEFERRING, account_check_failed
from loaders.agents import REGISTRY

log = logging.getLogger("gateway.graph.compiled")


def _in_list(path: Path | None) -> bool:
    while path is not None:
        if isinstance(path.key, int):
            return True
        path = path.prev
    return False


class CompilingExecutionContext(StrawberryGraphQLCoreExecutionContext):
    _root_batch: RootBatch | None = None

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any = None,
    ) -> Any:
        compiled = self._compile(parent_type, source, field_details_list, path)
        if compiled is not None:
            if isinstance(compiled[0], Partly):
                return self._answer_partly(compiled[0], compiled[2], parent_type, field_details_list, path)
            return self._answer((compiled[0], compiled[1], compiled[2]), parent_type, field_details_list, path)
        context = self.context_value
        if (
            isinstance(context, Context)
            and context.account_check_deferred
            and parent_type is self.schema.query_type
            and field_details_list[0].node.name.value in DEFERRING
        ):
            return self._after_account_check(context, parent_type, source, field_details_list, path, position_context)
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    async def _after_account_check(
        self,
        context: Context,
        parent_type: GraphQLObjectType,
        source: Any,
        details: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """A root field the compiler left to its resolver while the account check was deferred to the
        fields (graph/permissions.py): the check runs first, as it would have before the operation."""
        try:
            await context.check_account()
        except Exception as error:
            field = parent_type.fields[details[0].node.name.value]
            self.handle_field_error(account_check_failed(error), field.type, details, path)
            return None
        result = super().execute_field(parent_type, source, details, path, position_context)
        return await result if isawaitable(result) else result

    def _collect(self, type_: GraphQLObjectType, details: FieldDetailsList) -> Mapping[str, FieldDetailsList] | None:
        collected = self.collect_subfields(type_, details)
        if collected.new_defer_usages or any(item.fragment_variable_values for item in details):
            return None
        return collected.grouped_field_set

    def _compile(
        self, parent_type: GraphQLObjectType, source: Any, details: FieldDetailsList, path: Path
    ) -> tuple[Answerable, uuid.UUID, uuid.UUID] | None:
        """The field's statement and the keys it reads with (parent, viewer), or None when the field keeps
        its resolver."""
        context = self.context_value
        if not isinstance(context, Context) or context.is_socket or not context.resources.settings.sql_compiler:
            return None
        if self.operation.operation == OperationType.SUBSCRIPTION:
            return None  # streamed over HTTP, its results are encoded by `encode_json`, which splices nothing
        if context.viewer is None:
            return None  # anonymous: the resolvers answer null (or an error) without a statement
        viewer = context.viewer.user_id
        name = details[0].node.name.value
        build: Callable[[], Answerable | None]
        spec = CONNECTIONS.get((parent_type.name, name))
        if parent_type is self.schema.query_type and name in ("viewer", "node", "nodes"):
            subject = viewer
            build = partial(self._viewer, details) if name == "viewer" else partial(self._nodes, parent_type, details)
        elif spec is not None and parent_type is self.schema.query_type:
            subject = REGISTRY  # a root list (`agents`): its page spec's parent is the registry constant
            build = partial(self._connection, parent_type, details, spec)
        else:
            parent_id = getattr(source, "pk", None)
            if spec is None or not isinstance(parent_id, uuid.UUID) or _in_list(path):
                return None  # under a list of parents, the loaders batch every parent's page in one statement
            subject = parent_id
            build = partial(self._connection, parent_type, details, spec)
        compiled = COMPILED.get(details, (parent_type.name,), self.variable_values, build)
        return (compiled, subject, viewer) if compiled is not None else None

    def _reading(self) -> Reading:
        return Reading(self.schema, self._collect, self.variable_values)

    def _viewer(self, details: FieldDetailsList) -> Compiled | None:
        user_type = self.schema.get_type("User")
        assert isinstance(user_type, GraphQLObjectType)
        plan = plan_object(self._reading(), user_type, details)
        return viewer_statement(plan) if plan is not None else None

    def _nodes(self, query_type: GraphQLObjectType, details: FieldDetailsList) -> Compiled | Partly | None:
        definition = query_type.fields[details[0].node.name.value]
        return compile_nodes(self._reading(), definition, details)

    def _connection(
        self, parent_type: GraphQLObjectType, details: FieldDetailsList, spec: ConnectionSpec
    ) -> Compiled | None:
        name = details[0].node.name.value
        plan = plan_connection(self._reading(), parent_type.fields[name], details, spec, name)
        return connection_statement(plan) if plan is not None else None

    def _taker(
        self, context: Context, statement: Compiled, parent_type: GraphQLObjectType, path: Path
    ) -> Callable[[], Awaitable[Any]]:
        """What answers the statement's value when awaited."""
        if parent_type is self.schema.query_type and path.prev is None:
            # A root field: every compiled one of the operation goes into one statement (graph/compiled/batch.py).
            batch = self._root_batch
            if batch is None or batch.started:
                batch = self._root_batch = RootBatch(context.db)
            return partial(batch.value, batch.add(statement))
        # Shielded: when a sibling fails, graphql-core cancels this field; a statement cancelled midway
        # would leave the request's connection unusable for the fields still running (the loaders'
        # batches run in tasks of their own for the same reason).
        return lambda: asyncio.shield(context.db.value(*statement))

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        # An item of a partly compiled `nodes` (`_answer_partly`): its JSON as PostgreSQL printed it.
        if type(result) is orjson.Fragment:
            return result
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def _answer_partly(
        self,
        partly: Partly,
        viewer: uuid.UUID,
        parent_type: GraphQLObjectType,
        details: FieldDetailsList,
        path: Path,
    ) -> Awaitable[Any]:
        """`nodes(ids:)` with IDs of a type whose resolver answers from a cache (a document's metadata, in
        Redis): the statement answers the other IDs, the type's fetcher those, after the account check the
        resolver path runs before it (graph/permissions.py); graphql-core completes the fetched objects
        and splices the statement's items as they are."""
        context = self.context_value
        assert isinstance(context, Context)
        sql, params = partly.statement
        take = self._taker(context, (sql, bind_keys(params, viewer, viewer)), parent_type, path)
        definition = parent_type.fields[details[0].node.name.value]
        info = self.build_resolve_info(definition, [item.node for item in details], parent_type, path)

        async def items() -> list[Any]:
            # SQL NULL where the ID's row is not the viewer's (as `array_to_json` prints null for it).
            values: list[Any] = [orjson.Fragment(value) if value is not None else None for value in await take()]
            if context.account_check_deferred:
                try:
                    await context.check_account()
                except Exception as error:
                    raise account_check_failed(error) from None
            strawberry_info = Info(_raw_info=info, _field=definition.extensions["strawberry-definition"])
            wanted: dict[str, dict[uuid.UUID, None]] = {}
            for _, type_name, pk in partly.resolved:
                wanted.setdefault(type_name, {})[pk] = None
            found: dict[tuple[str, uuid.UUID], Any] = {}
            for type_name, unique in wanted.items():
                pks = list(unique)
                for pk, obj in zip(pks, await fetch_nodes(strawberry_info, type_name, pks), strict=True):
                    found[(type_name, pk)] = obj
            for position, type_name, pk in partly.resolved:
                values[position] = found[(type_name, pk)]
            return values

        completed = self.complete_awaitable_value(definition.type, details, info, path, items(), None)
        assert isawaitable(completed)
        return completed

    def _answer(
        self,
        compiled: tuple[Compiled, uuid.UUID, uuid.UUID],
        parent_type: GraphQLObjectType,
        details: FieldDetailsList,
        path: Path,
    ) -> Awaitable[Any]:
        context = self.context_value
        assert isinstance(context, Context)
        (sql, params), subject, viewer = compiled
        answer = self._taker(context, (sql, bind_keys(params, subject, viewer)), parent_type, path)

        async def run() -> Any:
            try:
                value = await answer()
            except Exception as error:
                field = parent_type.fields[details[0].node.name.value]
                self.handle_field_error(error, field.type, details, path)
                return None
            return orjson.Fragment(value) if value is not None else None

        return run()
