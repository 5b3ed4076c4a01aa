"""Schema extensions: refuse operations with a bad token, close the request's session, and the
document limits (depth, aliases, tokens) and error masking."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection

from gateway.settings import Settings
from graph.errors import RequestErrorCode, request_error

log = logging.getLogger("gateway.graph")


class RequestLifecycle(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if getattr(context, "auth_error", None):
            raise request_error(context.auth_error, RequestErrorCode.UNAUTHENTICATED)
        yield

    async def on_operation(self) -> Any:  # type: ignore[override]
        try:
            yield
        finally:
            context = self.execution_context.context
            if context is not None and hasattr(context, "db"):
                await context.db.close()
                context.reset()  # a socket's next operation gets its own session and loaders


def is_unexpected(error: GraphQLError) -> bool:
    """Mask exceptions we did not raise on purpose; keep validation and coded errors readable."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    log.error("unexpected error at %s", error.path, exc_info=original)
    return True


def extensions(settings: Settings) -> list[Any]:
    from graph.permissions import DeletedAccountsAreAnonymous

    from graph.credentials import OneCredentialMutation

    limit_rules = [*QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
                   *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
                   OneCredentialMutation]

    chosen: list[Any] = [
        RequestLifecycle,
        DeletedAccountsAreAnonymous,
        # The limiters' rule classes are built once: a fresh limiter per request would mint new rule
        # classes, and the validation cache (keyed by the rules) would then never hit.
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: MaskErrors(should_mask_error=is_unexpected),
        # Clients send the same few documents over and over; graphql-core's validation alone costs
        # ~7 ms for a one-node query. Both caches key on the document text.
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
    ]
    if settings.is_production:
        chosen.append(DisableIntrospection)
    return chosen
