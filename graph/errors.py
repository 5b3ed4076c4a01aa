"""Errors the graph answers with: payload `UserError`s for expected failures, and GraphQL errors with an
`extensions.code` for requests that cannot run (bad token, bad arguments)."""

from __future__ import annotations

from enum import StrEnum

import strawberry
from graphql import GraphQLError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from graph.enums import ErrorCode
from resolvers.problems import Problem


class RequestErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    BAD_REQUEST = "BAD_REQUEST"  # the HTTP request itself is malformed (not JSON, no query)
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"  # APQ: send the text with the hash
    PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"  # not one of the trusted documents
    NOT_FOUND = "NOT_FOUND"  # a subscription's object does not exist or is not the viewer's
    UNAVAILABLE = "UNAVAILABLE"  # the event stream broke
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


def request_error(message: str, code: RequestErrorCode, **extensions: object) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code.value, **extensions})


def typed_refusal(error: GraphQLError) -> GraphQLError | None:
    """strawberry's own refusals before execution, as BAD_REQUEST errors that say what to do: an operation
    type the transport does not carry (a query or a mutation sent with the legacy graphql-ws `start`, which
    runs subscriptions only) or a document whose operation cannot be chosen. None for any other error."""
    original = error.original_error
    if isinstance(original, InvalidOperationTypeError):
        return request_error(
            "This transport carries subscriptions only: send queries and mutations with POST /graphql or "
            "over a graphql-transport-ws socket.",
            RequestErrorCode.BAD_REQUEST,
        )
    if isinstance(original, CannotGetOperationTypeError):
        return request_error(original.as_http_error_reason(), RequestErrorCode.BAD_REQUEST)
    return None


def bad_input(message: str) -> GraphQLError:
    return request_error(message, RequestErrorCode.BAD_USER_INPUT)


@strawberry.type(description="An expected failure of a mutation: what was wrong with which input.")
class UserError:
    field: str | None = strawberry.field(description="Dotted path of the offending input, e.g. `input.password`.")
    code: ErrorCode
    message: str
    retry_after: int | None = strawberry.field(default=None, description="Seconds to wait (RATE_LIMITED).")

    @classmethod
    def from_problem(cls, problem: Problem) -> UserError:
        return cls(field=problem.field, code=problem.code, message=problem.message, retry_after=problem.retry_after)


def user_errors(problems: list[Problem]) -> list[UserError]:
    return [UserError.from_problem(problem) for problem in problems]
