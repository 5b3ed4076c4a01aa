"""Declared permissions: who may run a field, checked before its resolver."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from graphql import FieldNode, OperationType, get_operation_ast
from strawberry.permission import BasePermission
from strawberry.types import ExecutionContext

from graph.context import Context, Info
from graph.errors import RequestErrorCode, request_error
from models.users import UserRole

log = logging.getLogger("gateway.graph")


class IsAuthenticated(BasePermission):
    """A signed-in user whose account still exists (a deleted account can do nothing)."""

    message = "Sign in first."
    error_extensions = {"code": RequestErrorCode.UNAUTHENTICATED.value}  # noqa: RUF012

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return await info.context.active_viewer() is not None


SIGNED_IN: list[type[BasePermission]] = [IsAuthenticated]


def viewer_id(info: Info) -> uuid.UUID:
    """The signed-in viewer's id, in a field guarded by `IsAuthenticated` (which ran first)."""
    assert info.context.viewer is not None
    return info.context.viewer.user_id


class IsOperator(BasePermission):
    """Operators change the shared MCP agent registry."""

    message = "Only operators can do this."
    error_extensions = {"code": RequestErrorCode.FORBIDDEN.value}  # noqa: RUF012

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        row = await info.context.active_viewer()
        if row is None:
            # One instance serves every request: raise, rather than change this denial's message.
            raise request_error(IsAuthenticated.message, RequestErrorCode.UNAUTHENTICATED)
        return bool(row.role == UserRole.OPERATOR)


OPERATORS: list[type[BasePermission]] = [IsOperator]


async def deleted_accounts_are_anonymous(execution: ExecutionContext) -> None:
    """A token of an ended sign-in session is refused (UNAUTHENTICATED); a deleted account's
    still-valid token acts as no token at all. Checked once the document is valid (a refused one
    costs nothing), through the users loader (so `viewer` costs no more); graph/extensions.py calls it
    before the operation executes."""
    context = execution.context
    if not isinstance(context, Context):
        return
    if await context.session_revoked():
        raise request_error("The session has ended; sign in again.", RequestErrorCode.UNAUTHENTICATED)
    roots = query_roots(execution)
    # Only an HTTP request compiles: on a socket (whose context serves several operations at
    # once) or with the compiler off, `node` checks first as every other field does.
    compiles = not context.is_socket and context.resources.settings.sql_compiler
    if roots is not None and roots <= SELF_CHECKING | (DEFERRING if compiles else frozenset()):
        context.account_check_deferred = bool(roots & DEFERRING)
    else:
        try:
            await context.forget_deleted_viewer()
        except Exception as error:
            raise account_check_failed(error) from None


def account_check_failed(error: Exception) -> Exception:
    log.error("cannot check the viewer's account", exc_info=error)
    return request_error("Unexpected error.", RequestErrorCode.INTERNAL_SERVER_ERROR)


# Root fields of a query that need no account check first: `viewer` is the account's own row, null once
# it is deleted, and everything else hangs off it. `node`/`nodes` take the check with them: compiled
# (graph/compiled/), their one statement checks the account; answered by their resolvers, they run it
# first (`Context.check_account`). This keeps the headline read and `node(id:)` at one statement.
SELF_CHECKING = frozenset(("viewer", "__typename"))
DEFERRING = frozenset(("node", "nodes"))


def query_roots(execution: ExecutionContext) -> set[str] | None:
    """The names of a query's root fields, or None for another operation or a root fragment."""
    document = execution.graphql_document
    operation = get_operation_ast(document, execution.operation_name) if document is not None else None
    if operation is None or operation.operation != OperationType.QUERY:
        return None
    names = set()
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            return None
        names.add(selection.name.value)
    return names
