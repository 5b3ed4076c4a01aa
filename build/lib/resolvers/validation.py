"""Field rules of the data model, each returning a Problem or None, so a use case can report every
violation of an input at once."""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from resolvers.problems import ErrorCode, Problem

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256
EMAIL_MAX = 254  # RFC 5321: a forward path holds at most 256 octets including the angle brackets
JSON_MAX_BYTES, JSON_MAX_DEPTH = 64 * 1024, 32


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(field: str, email: str) -> Problem | None:
    # The length first: the pattern is never run over an unbounded value.
    if len(email) > EMAIL_MAX or not EMAIL_RE.match(email):
        return Problem(field, ErrorCode.INVALID_EMAIL, "Enter a valid email address.")
    return None


def check_password(field: str, password: str, email: str | None = None) -> Problem | None:
    if len(password) > PASSWORD_MAX:
        return Problem(field, ErrorCode.TOO_LONG, f"Use at most {PASSWORD_MAX} characters.")
    weak = (
        len(password) < PASSWORD_MIN
        or not re.search(r"[a-z]", password)
        or not re.search(r"[A-Z]", password)
        or not re.search(r"\d", password)
    )
    if weak:
        return Problem(
            field, ErrorCode.WEAK_PASSWORD, "Use 8 or more characters with upper and lower case letters and a number."
        )
    if email is not None and password.strip().lower() == email:
        return Problem(field, ErrorCode.WEAK_PASSWORD, "The password cannot be your email address.")
    return None


def check_length(
    field: str, value: str | None, *, maximum: int, minimum: int = 0, label: str = "This"
) -> Problem | None:
    if value is None:
        return None
    if len(value) < minimum:
        if minimum == 1:
            return Problem(field, ErrorCode.REQUIRED, f"{label} is required.")
        return Problem(field, ErrorCode.TOO_SHORT, f"{label} needs at least {minimum} characters.")
    if len(value) > maximum:
        return Problem(field, ErrorCode.TOO_LONG, f"{label} can have at most {maximum} characters.")
    return None


def unstorable(value: str) -> str | None:
    """Why PostgreSQL text (and JSONB) cannot hold `value`, or None: a NUL character, or an unpaired
    surrogate (a JSON `\\ud800` escape) that has no UTF-8 form."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate character"
    return None


def check_text(field: str, value: str, *, maximum: int) -> Problem | None:
    """What every string input must be, whatever it is: storable, and not longer than `maximum`."""
    reason = unstorable(value)
    if reason is not None:
        return Problem(field, ErrorCode.INVALID, f"The value {reason}.")
    if len(value) > maximum:
        return Problem(field, ErrorCode.TOO_LONG, f"Use at most {maximum} characters.")
    return None


def check_json(
    field: str, value: Any, *, max_bytes: int = JSON_MAX_BYTES, max_depth: int = JSON_MAX_DEPTH
) -> Problem | None:
    """A JSON input: at most `max_depth` nested containers and `max_bytes` once serialized, and only
    what JSONB can hold (no NUL or unpaired surrogate in a string or key, no NaN or infinity). The walk
    is iterative: a value nested too deeply for recursion is a client error, not a RecursionError."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                return Problem(field, ErrorCode.INVALID, f"JSON values nest at most {max_depth} levels deep.")
            members = item.items() if isinstance(item, dict) else enumerate(item)
            for key, member in members:
                if isinstance(key, str) and (reason := unstorable(key)) is not None:
                    return Problem(field, ErrorCode.INVALID, f"A JSON key {reason}.")
                stack.append((member, depth + 1))
        elif isinstance(item, str):
            if (reason := unstorable(item)) is not None:
                return Problem(field, ErrorCode.INVALID, f"A JSON string {reason}.")
        elif isinstance(item, float) and not math.isfinite(item):
            return Problem(field, ErrorCode.INVALID, "JSON numbers must be finite.")
    try:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):  # e.g. an integer too long for Python to print
        return Problem(field, ErrorCode.INVALID, "This is not a JSON value the gateway can store.")
    if size > max_bytes:
        return Problem(field, ErrorCode.TOO_LONG, f"JSON values can be at most {max_bytes} bytes.")
    return None


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(field: str, zone: str) -> Problem | None:
    if len(zone) > 50 or zone not in _zones():
        return Problem(field, ErrorCode.INVALID_TIMEZONE, "Use an IANA time zone such as Australia/Sydney.")
    return None


def normalize_phone(phone: str) -> str:
    return re.sub(r"[\s().-]", "", phone)


def check_phone(field: str, phone: str) -> Problem | None:
    if not PHONE_RE.match(phone):
        return Problem(
            field, ErrorCode.INVALID_PHONE, "Use an international number starting with +, e.g. +61 2 9999 0000."
        )
    return None


def collect(*problems: Problem | None) -> list[Problem]:
    return [problem for problem in problems if problem is not None]
