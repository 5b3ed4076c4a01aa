"""Typed views of JSONB columns. The seed gives each JSON column an interface; these build strawberry
types from the stored (camelCase) JSON, tolerating missing or mistyped keys by falling back to the
field's default, so one odd row never fails a whole page."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import math
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.utils.str_converters import to_camel_case

__all__ = ["JSON", "from_json", "json_field", "json_value"]

T = TypeVar("T")
_MISSING = object()
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # GraphQL `Int` is 32-bit; a larger number cannot be served


def json_value(raw: Any) -> Any:
    """A JSON column's value: loaders hand over the text (decoded here, only when a field needs it),
    models hand over the decoded value."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return raw


def from_json(cls: type[T], data: Any) -> T:
    data = json_value(data)
    definition = get_object_definition(cls, strict=True)
    values: dict[str, Any] = {}
    if isinstance(data, dict):
        for field in definition.fields:
            key = field.graphql_name or to_camel_case(field.python_name)
            if key in data:
                converted = _convert(field.type, data[key])
                if converted is not _MISSING:
                    values[field.python_name] = converted
        # Private (non-GraphQL) attributes take the stored value as it is, e.g. an id a field resolves.
        public = {field.python_name for field in definition.fields}
        for attribute in dataclasses.fields(cls):  # type: ignore[arg-type]
            key = to_camel_case(attribute.name)
            if attribute.name not in public and key in data and isinstance(data[key], str | int):
                values[attribute.name] = data[key]
    return cls(**values)


def json_field(kind: type[Any], stored: str) -> Any:
    """The field of a node type that answers the JSON document its private attribute `stored` holds, read
    as `kind` (`from_json`)."""

    def resolve(root: Any) -> Any:
        return from_json(kind, getattr(root, stored))

    resolve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("root", inspect.Parameter.POSITIONAL_OR_KEYWORD)], return_annotation=kind
    )
    return strawberry.field(resolver=resolve)


def _convert(kind: Any, value: Any) -> Any:
    if isinstance(kind, StrawberryOptional):
        return None if value is None else _convert(kind.of_type, value)
    if value is None:
        return _MISSING
    if isinstance(kind, StrawberryList):
        if not isinstance(value, list):
            return _MISSING
        items = [_convert(kind.of_type, item) for item in value]
        return [item for item in items if item is not _MISSING]
    if get_object_definition(kind) is not None:
        return from_json(kind, value)
    if isinstance(kind, StrawberryEnumDefinition):  # how strawberry hands over an enum field's type
        kind = kind.wrapped_cls
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except (TypeError, ValueError):
            return _MISSING
    if kind is datetime:
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return _MISSING
    if kind is float:
        return _finite_float(value)
    if kind is int:
        is_int = isinstance(value, int) and not isinstance(value, bool)
        return value if is_int and _INT_MIN <= value <= _INT_MAX else _MISSING
    if kind in (bool, str):
        return value if isinstance(value, kind) else _MISSING
    return value  # the JSON scalar


def _finite_float(value: Any) -> Any:
    """GraphQL `Float` cannot carry infinity (what json reads `1e400` as) nor an int too big to be a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _MISSING
    try:
        number = float(value)
    except OverflowError:
        return _MISSING
    return number if math.isfinite(number) else _MISSING
