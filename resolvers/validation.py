"""Field rules of the data model, each returning a Problem or None, so a use case can report every
violation of an input at once."""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import available_timezones

from resolvers.problems import ErrorCode, Problem

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256


def normalize_email(email: str) -> str:
    return email.strip().lower()


EMAIL_MAX = 254  # RFC 5321's longest usable address


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
        return Problem(field, ErrorCode.WEAK_PASSWORD,
                       "Use 8 or more characters with upper and lower case letters and a number.")
    if email is not None and password.strip().lower() == email:
        return Problem(field, ErrorCode.WEAK_PASSWORD, "The password cannot be your email address.")
    return None


def check_length(field: str, value: str | None, *, maximum: int, minimum: int = 0,
                 label: str = "This") -> Problem | None:
    if value is None:
        return None
    if len(value) < minimum:
        if minimum == 1:
            return Problem(field, ErrorCode.REQUIRED, f"{label} is required.")
        return Problem(field, ErrorCode.TOO_SHORT, f"{label} needs at least {minimum} characters.")
    if len(value) > maximum:
        return Problem(field, ErrorCode.TOO_LONG, f"{label} can have at most {maximum} characters.")
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
        return Problem(field, ErrorCode.INVALID_PHONE,
                       "Use an international number starting with +, e.g. +61 2 9999 0000.")
    return None


def collect(*problems: Problem | None) -> list[Problem]:
    return [problem for problem in problems if problem is not None]
