"""The gateway's one schema extension (`GatewayExtension`) and the per-request concerns it runs that live
nowhere else: refuse operations with a bad token, close the request's session, the cost limit and
per-user cost budget, error masking, hidden suggestions, and the parser and validation caches."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule, parse
from graphql import ExecutionResult as GraphQLExecutionResult
from redis.exceptions import RedisError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.graphql import OperationType

from gateway import logs
from gateway.settings import Settings
from graph.context import Context
from graph.cost import CostCache
from graph.document_limits import DocumentLimits, DocumentRules, rule_for
from graph.errors import RequestErrorCode, request_error, typed_refusal
from graph.permissions import deleted_accounts_are_anonymous
from graph.persisted import register_pending
from graph.telemetry import OperationRecord, name_operation
from services.cost_budget import CostBudget, spend

log = logging.getLogger("gateway.graph")


def refuse_unusable(execution: ExecutionContext) -> None:
    """Before an operation executes: a bad token, or a subscription over HTTP, is refused."""
    context = execution.context
    if getattr(context, "auth_error", None):
        raise request_error(context.auth_error, RequestErrorCode.UNAUTHENTICATED)
    if (
        isinstance(context, Context)
        and not context.is_socket
        and execution.operation_type is OperationType.SUBSCRIPTION
    ):
        raise request_error(
            "Subscriptions are served over a WebSocket at /graphql (graphql-transport-ws or graphql-ws).",
            RequestErrorCode.BAD_REQUEST,
        )


_SUGGESTION = re.compile(r"\s*Did you mean .*\?$", re.DOTALL)


def hide_suggestions(result: Any) -> None:
    """In production, "Did you mean 'viewer'?" would map the schema for someone without introspection."""
    for error in getattr(result, "errors", None) or ():
        if isinstance(error, GraphQLError) and "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)


class CostLimits:
    """Shared by every request of one schema: the per-operation limit, the cost cache, the budget."""

    REDIS_TIMEOUT = 1.0  # the budget must never stall a read: past this, the operation runs unbudgeted

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.max_query_cost
        self.cache = CostCache()
        self.budget = CostBudget(settings.cost_budget, settings.cost_window_seconds)
        self.redis_down = False

    async def spend(self, context: Any, cost: int) -> int | None:
        """Seconds to wait when the subject's budget cannot pay for `cost`, else None. Without Redis the
        budget cannot be known; reads go on (one warning per outage)."""
        if not self.budget.enabled or not hasattr(context, "redis"):
            return None
        if context.viewer is not None:
            subject = f"user:{context.viewer.user_id}"
        else:
            subject = f"address:{context.client_address or 'unknown'}"
        try:
            async with asyncio.timeout(self.REDIS_TIMEOUT):
                wait = await spend(context.redis, self.budget, subject, cost)
        except (RedisError, OSError, TimeoutError):
            if not self.redis_down:
                log.warning("query cost budget not enforced: Redis unreachable")
            self.redis_down = True
            return None
        self.redis_down = False
        return wait

    async def charge(self, execution: ExecutionContext) -> None:
        """Refuses, before anything runs (no SQL), an operation that could build more objects than the
        limit, and one the caller's cost budget cannot pay for. Queries, mutations and subscriptions
        alike (a subscription pays once, when it starts)."""
        document = execution.graphql_document
        if document is None:
            return
        variables = execution.variables if isinstance(execution.variables, Mapping) else None
        cost = self.cache.cost(execution.schema._schema, document, execution.query, execution.operation_name, variables)
        if isinstance(execution.context, Context):
            execution.context.cost = cost  # for the operation's span (graph/telemetry.py)
        if cost > self.limit:
            raise request_error(
                f"The query could build {cost} objects; at most {self.limit} are allowed. Ask for smaller "
                "pages or fewer nested lists.",
                RequestErrorCode.QUERY_TOO_COMPLEX,
                cost=cost,
                limit=self.limit,
            )
        wait = await self.spend(execution.context, cost)
        if wait is not None:
            raise request_error(
                f"Query cost budget spent; try again in {wait} seconds.",
                RequestErrorCode.RATE_LIMITED,
                retryAfter=wait,
            )


class QuietMaskErrors(MaskErrors):
    """strawberry's MaskErrors, with a fast path for a result without errors: it checked every socket
    result against a runtime protocol (`isinstance` in typing.py), 8% of a server's time when 500
    subscribers receive a message."""

    def _process_result(self, result: object) -> None:
        if getattr(result, "errors", None):
            super()._process_result(result)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return super()._process_errors([typed_refusal(error) or error for error in errors])


def is_unexpected(error: GraphQLError) -> bool:
    """Mask exceptions we did not raise on purpose; keep validation and coded errors readable."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    log.error("unexpected error at %s", error.path, exc_info=original)
    return True


MASK = QuietMaskErrors(should_mask_error=is_unexpected)

# Clients send the same few documents over and over; graphql-core's validation alone costs ~7 ms for a
# one-node query. Both caches key on the document text (validation: on the parsed document, which the
# parser cache hands out once per text, and the rules).
parse_cached = lru_cache(maxsize=1024)(parse)
validate_cached = lru_cache(maxsize=1024)(validate_document)


class Pipeline:
    """What every request of one schema shares: the document limits, the cost limits, and which of the
    optional steps run (registering APQ documents, hiding suggestions in production)."""

    def __init__(self, settings: Settings, rules: DocumentRules) -> None:
        self.rules = rules
        self.cost = CostLimits(settings)
        self.registers = settings.trusted_documents is None
        self.production = settings.is_production


class GatewayExtension(SchemaExtension):
    """Every per-request concern as one strawberry extension, which strawberry inspects and wraps anew for
    each request (~15 us a hook): 4 hooks here against 14 over 9 extensions before (docs/decisions.md,
    "One extension"). Each concern lives in its own module as a plain function or class; this runs them
    in the order the separate extensions ran:

    - operation: the telemetry record (first in, last out: it times and logs everything else), the
      request's database session (closed at the end) or a socket operation's scope, the document limits'
      parse options and rules; at the end, suggestions hidden (production) and unexpected errors masked.
    - parse: the text limit (nothing oversized enters the parser cache), then the cached parse and the
      cached validation in one hook (validation needs nothing strawberry does between the two: it only
      checks the operation type, and answers with the validation errors after it as before).
    - execute (the document is valid and its operation allowed): an APQ document registered, the
      operation's name on log lines, a bad token or an HTTP subscription refused, the cost limit and
      budget (before anything touches the database), then the viewer's account check.
    - stream result (sockets): the socket operation's connection given back, errors masked, suggestions
      hidden.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.streamed = False  # a streamed result was masked as it went out: not again at the end

    async def on_operation(self) -> AsyncIterator[None]:
        execution = self.execution_context
        record = OperationRecord(execution)
        try:
            context = execution.context
            if not isinstance(context, Context):
                self.pipeline.rules.prepare(execution)
                yield
                self._finish_result()
            elif context.is_socket:
                with context.operation() as scope:
                    try:
                        self.pipeline.rules.prepare(execution)
                        yield
                        self._finish_result()
                    finally:
                        await scope.close()
            else:
                try:
                    self.pipeline.rules.prepare(execution)
                    yield
                    self._finish_result()
                finally:
                    await context.db.close()
        finally:
            record.finish(execution)

    def _finish_result(self) -> None:
        result = self.execution_context.result
        if self.pipeline.production:
            hide_suggestions(result)
            hide_suggestions(getattr(result, "initial_result", None))
        if self.streamed:
            return
        if isinstance(result, GraphQLExecutionResult | StrawberryExecutionResult):
            MASK._process_result(result)
        elif initial_result := getattr(result, "initial_result", None):
            MASK._process_result(initial_result)

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        self.pipeline.rules.check_text(execution.query)
        try:
            document = parse_cached(execution.query, **execution.parse_options)
        except GraphQLError:
            # Left to strawberry's own parse, which answers it as the operation's error. Raised from this
            # hook it escaped the `try` of `schema.subscribe`/`stream` (only `execute` has an outer catch):
            # on a socket graphql-ws answered nothing and graphql-transport-ws a bare `complete`, each with
            # an error-level traceback in the log.
            yield
            return
        execution.graphql_document = document
        execution.pre_execution_errors = validate_cached(execution.schema._schema, document, execution.validation_rules)
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        if self.pipeline.registers:
            await register_pending(execution.context)
        previous_name = name_operation(execution)
        try:
            refuse_unusable(execution)
            await self.pipeline.cost.charge(execution)
            await deleted_accounts_are_anonymous(execution)
            yield
        finally:
            logs.operation_name.set(previous_name)

    async def on_stream_result(self, result: StreamExecutionResult) -> AsyncIterator[None]:
        """A socket's result (a subscription's event, or a query's answer) has been resolved: give its
        database connection back before it is sent, so no socket holds one between events."""
        context = self.execution_context.context
        scope = context.current_scope() if isinstance(context, Context) else None
        if scope is not None:
            await scope.renew()
        self.streamed = True
        MASK._process_stream_result(result)
        if self.pipeline.production:
            hide_suggestions(result)
        yield


def extensions(settings: Settings) -> list[Any]:
    from graph.credentials import OneCredentialMutation

    document_rule = rule_for(
        DocumentLimits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_fields=settings.max_fields,
            max_fields_per_set=settings.max_fields_per_set,
        )
    )
    # The rule classes are built once: fresh ones per request would never hit the validation cache (keyed
    # by the rules). In production, introspection is refused as strawberry's DisableIntrospection does.
    rules: tuple[type[ASTValidationRule], ...] = (document_rule, OneCredentialMutation)
    if settings.is_production:
        rules += (NoSchemaIntrospectionCustomRule,)
    pipeline = Pipeline(settings, DocumentRules(settings.max_query_bytes, settings.max_tokens, rules))
    return [lambda: GatewayExtension(pipeline)]
