"""Limits on every argument at the door, in one place: each string input is storable (no NUL, no unpaired
surrogate) and no longer than its limit, each list holds at most `MAX_LIST_ITEMS` items, each JSON value
is at most 64 KiB and 32 levels deep. A mutation answers the violations as payload `UserError`s (dotted
field path) before its use case runs; a query or subscription field answers a `BAD_USER_INPUT` error.

The check is a field extension that `guard_arguments` adds to every field with arguments when the
schema is built, so no input can forget it. A string input's limit is declared where the input is
(`limited(100)`); one that declares none gets `DEFAULT_MAX_LENGTH`."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.scalars import JSON
from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET
from strawberry.utils.str_converters import to_camel_case

from graph.errors import UserError, bad_input, user_errors
from resolvers.problems import ErrorCode, Problem
from resolvers.validation import check_json, check_text

MAX_LENGTH = "max_length"  # the metadata key of a string input's own limit
DEFAULT_MAX_LENGTH = 255
MAX_LIST_ITEMS = 100

# Limits shared by inputs of the same kind, so one kind reads the same everywhere.
EMAIL = 254
NAME = 100
PHONE = 32
TIMEZONE = 50
TITLE = 255
TOKEN = 512
PASSWORD = 256
URL = 500
DESCRIPTION = 2000
MESSAGE = 10_000
API_KEY = 4096


def limited(max_length: int, **options: Any) -> Any:
    """A string input field (or list of strings) with a maximum length of its own."""
    return strawberry.field(metadata={MAX_LENGTH: max_length}, **options)


@dataclass(frozen=True)
class _Argument:
    python_name: str
    path: str
    type: Any
    max_length: int | None


def _resolve(type_: Any) -> Any:
    return type_.resolve_type() if isinstance(type_, LazyType) else type_


def problems_of(value: Any, type_: Any, path: str, max_length: int | None) -> Iterator[Problem]:
    """Every violation inside one converted argument value, by dotted GraphQL path."""
    type_ = _resolve(type_)
    if value is None or value is UNSET:
        return
    if isinstance(type_, StrawberryOptional):
        yield from problems_of(value, type_.of_type, path, max_length)
        return
    if isinstance(type_, StrawberryList):
        if len(value) > MAX_LIST_ITEMS:
            yield Problem(path, ErrorCode.TOO_LONG, f"Give at most {MAX_LIST_ITEMS} items.")
            return
        for index, item in enumerate(value):
            yield from problems_of(item, type_.of_type, f"{path}.{index}", max_length)
        return
    if type_ is JSON:
        if (problem := check_json(path, value)) is not None:
            yield problem
        return
    definition = get_object_definition(type_)
    if definition is not None and definition.is_input:
        for field in definition.fields:
            name = field.graphql_name or to_camel_case(field.python_name)
            yield from problems_of(
                getattr(value, field.python_name, None), field.type, f"{path}.{name}", field.metadata.get(MAX_LENGTH)
            )
        return
    if isinstance(value, str) and not isinstance(value, enum.Enum):  # a StrEnum member is no input text
        problem = check_text(path, value, maximum=max_length or DEFAULT_MAX_LENGTH)
        if problem is not None:
            yield problem


class InputLimits(FieldExtension):
    """Checks a field's arguments before its resolver (and after its permissions: it is the innermost
    extension, so an anonymous caller is told to sign in, not how long a name may be)."""

    def __init__(self) -> None:
        self.arguments: list[_Argument] = []
        self.payload: type | None = None

    def apply(self, field: StrawberryField) -> None:
        self.arguments = [
            _Argument(
                argument.python_name,
                argument.graphql_name or to_camel_case(argument.python_name),
                argument.type,
                argument.metadata.get(MAX_LENGTH),
            )
            for argument in field.arguments
        ]
        self.payload = _payload_type(field)

    def problems(self, kwargs: dict[str, Any]) -> list[Problem]:
        return [
            problem
            for argument in self.arguments
            for problem in problems_of(
                kwargs.get(argument.python_name), argument.type, argument.path, argument.max_length
            )
        ]

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        problems = self.problems(kwargs)
        if problems:
            if self.payload is not None:
                return self.payload(errors=user_errors(problems))
            first = problems[0]
            raise bad_input(f"`{first.field}`: {first.message}")
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result


def _payload_type(field: StrawberryField) -> type | None:
    """A mutation's payload class (one with `errors: [UserError!]!`), or None for other fields."""
    if field.is_subscription:
        return None
    try:
        kind = _resolve(field.type)
    except Exception:
        return None
    definition = get_object_definition(kind)
    if definition is None or definition.is_input:
        return None
    errors = next((member for member in definition.fields if member.python_name == "errors"), None)
    if errors is None:
        return None
    errors_type = _resolve(errors.type)
    return kind if isinstance(errors_type, StrawberryList) and errors_type.of_type is UserError else None


def guard_arguments(fields: list[StrawberryField]) -> bool:
    """Add `InputLimits` (innermost) to each field with arguments that lacks it; True if any changed.
    Strawberry builds a field's resolver chain when the schema is built, so a change needs a rebuild."""
    changed = False
    for field in fields:
        if field.arguments and not any(isinstance(extension, InputLimits) for extension in field.extensions):
            field.extensions.insert(0, InputLimits())
            changed = True
    return changed
