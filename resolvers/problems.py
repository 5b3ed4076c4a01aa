"""What a use case reports when input is wrong or an action is not allowed: `Problem`s, raised together
as one `Rejected` so a client sees every violation of an input at once."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    TOO_SHORT = "TOO_SHORT"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    INVALID_EMAIL = "INVALID_EMAIL"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_TIMEZONE = "INVALID_TIMEZONE"
    INVALID_PHONE = "INVALID_PHONE"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    NOT_FOUND = "NOT_FOUND"
    INVALID_STATE = "INVALID_STATE"
    RATE_LIMITED = "RATE_LIMITED"
    UNAVAILABLE = "UNAVAILABLE"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    UNSAFE_URL = "UNSAFE_URL"
    UNREACHABLE = "UNREACHABLE"
    UNKNOWN_TOOL = "UNKNOWN_TOOL"
    SCHEMA_MISMATCH = "SCHEMA_MISMATCH"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    NOT_CONFIGURED = "NOT_CONFIGURED"
    INVALID_SCOPE = "INVALID_SCOPE"
    UNTRUSTED_ORIGIN = "UNTRUSTED_ORIGIN"


@dataclass(frozen=True)
class Problem:
    field: str | None
    code: ErrorCode
    message: str
    retry_after: int | None = None


class Rejected(Exception):
    """A use case refused its input; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems
