"""Schema extensions: refuse operations with a bad token, close the request's session, the document
limits (depth, aliases, tokens, cost), the per-user cost budget, and error masking."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from graphql import GraphQLError
from redis.exceptions import RedisError
from strawberry.extensions import (
    MaskErrors,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.types.graphql import OperationType

from gateway.settings import Settings
from graph.context import Context
from graph.cost import CostCache
from graph.document_limits import DocumentLimits, DocumentRules, rule_for
from graph.errors import RequestErrorCode, request_error
from graph.persisted import RegisterPersistedQuery
from graph.telemetry import OperationTelemetry
from services.cost_budget import CostBudget, spend

log = logging.getLogger("gateway.graph")


class RequestLifecycle(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if getattr(context, "auth_error", None):
            raise request_error(context.auth_error, RequestErrorCode.UNAUTHENTICATED)
        if (
            isinstance(context, Context)
            and not context.is_socket
            and self.execution_context.operation_type is OperationType.SUBSCRIPTION
        ):
            raise request_error(
                "Subscriptions are served over a WebSocket at /graphql (graphql-transport-ws or graphql-ws).",
                RequestErrorCode.BAD_REQUEST,
            )
        yield

    async def on_operation(self) -> Any:
        context = self.execution_context.context
        if not isinstance(context, Context):
            yield
            return
        if not context.is_socket:
            try:
                yield
            finally:
                await context.db.close()
            return
        with context.operation() as scope:
            try:
                yield
            finally:
                await scope.close()

    async def on_stream_result(self, result: Any) -> Any:
        """A socket's result (a subscription's event, or a query's answer) has been resolved: give its
        database connection back before it is sent, so no socket holds one between events."""
        context = self.execution_context.context
        scope = context.current_scope() if isinstance(context, Context) else None
        if scope is not None:
            await scope.renew()
        yield


_SUGGESTION = re.compile(r"\s*Did you mean .*\?$", re.DOTALL)


class HideSuggestions(SchemaExtension):
    """In production, "Did you mean 'viewer'?" would map the schema for someone without introspection."""

    @staticmethod
    def _strip(result: Any) -> None:
        for error in getattr(result, "errors", None) or ():
            if isinstance(error, GraphQLError) and "Did you mean" in error.message:
                error.message = _SUGGESTION.sub("", error.message)

    def on_operation(self) -> Iterator[None]:
        yield
        self._strip(self.execution_context.result)
        self._strip(getattr(self.execution_context.result, "initial_result", None))

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._strip(result)
        yield


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


class QueryCostLimiter(SchemaExtension):
    """Refuses, before anything runs (no SQL), an operation that could build more objects than the
    limit, and one the caller's cost budget cannot pay for. Queries, mutations and subscriptions alike
    (a subscription pays once, when it starts)."""

    def __init__(self, limits: CostLimits) -> None:
        self.limits = limits

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if document is not None:
            variables = execution.variables if isinstance(execution.variables, Mapping) else None
            cost = self.limits.cache.cost(
                execution.schema._schema, document, execution.query, execution.operation_name, variables
            )
            if isinstance(execution.context, Context):
                execution.context.cost = cost  # for the operation's span (graph/telemetry.py)
            limit = self.limits.limit
            if cost > limit:
                raise request_error(
                    f"The query could build {cost} objects; at most {limit} are allowed. Ask for smaller "
                    "pages or fewer nested lists.",
                    RequestErrorCode.QUERY_TOO_COMPLEX,
                    cost=cost,
                    limit=limit,
                )
            wait = await self.limits.spend(execution.context, cost)
            if wait is not None:
                raise request_error(
                    f"Query cost budget spent; try again in {wait} seconds.",
                    RequestErrorCode.RATE_LIMITED,
                    retryAfter=wait,
                )
        yield


class QuietMaskErrors(MaskErrors):
    """strawberry's MaskErrors, with a fast path for a result without errors: it checked every socket
    result against a runtime protocol (`isinstance` in typing.py), 8% of a server's time when 500
    subscribers receive a message."""

    def _process_result(self, result: object) -> None:
        if getattr(result, "errors", None):
            super()._process_result(result)


def is_unexpected(error: GraphQLError) -> bool:
    """Mask exceptions we did not raise on purpose; keep validation and coded errors readable."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    log.error("unexpected error at %s", error.path, exc_info=original)
    return True


def extensions(settings: Settings) -> list[Any]:
    from graph.credentials import OneCredentialMutation
    from graph.permissions import DeletedAccountsAreAnonymous

    document_rule = rule_for(
        DocumentLimits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_fields=settings.max_fields,
            max_fields_per_set=settings.max_fields_per_set,
        )
    )

    rules = (document_rule, OneCredentialMutation)
    cost_limits = CostLimits(settings)

    chosen: list[Any] = [
        OperationTelemetry,  # first: it times and logs everything the others do
        RequestLifecycle,
        # Before anything that can touch the database (the deleted-account check loads the viewer).
        lambda: QueryCostLimiter(cost_limits),
        DeletedAccountsAreAnonymous,
        # The limiters' rule classes are built once: a fresh limiter per request would mint new rule
        # classes, and the validation cache (keyed by the rules) would then never hit.
        # The text limit runs before the parser cache's hook: nothing oversized enters it.
        lambda: DocumentRules(settings.max_query_bytes, settings.max_tokens, rules),
        lambda: QuietMaskErrors(should_mask_error=is_unexpected),
        # Clients send the same few documents over and over; graphql-core's validation alone costs
        # ~7 ms for a one-node query. Both caches key on the document text.
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
    ]
    if settings.trusted_documents is None:
        chosen.append(RegisterPersistedQuery)
    if settings.is_production:
        chosen += [DisableIntrospection, HideSuggestions]
    return chosen
