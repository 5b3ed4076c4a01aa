"""Typed JSONB documents (an agent's configuration, a task's metadata): each is read in one place, with its
defaults and bounds, instead of as dict keys wherever it is used.

A document is stored in camelCase as clients and the seed name its keys; keys we do not know are kept as
they are, so reading a document and writing it back changes nothing but what was changed. A value that
does not fit its type or bounds is a ValueError (pydantic's ValidationError is one) naming the key."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.alias_generators import to_camel


class JsonDocument(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True, hide_input_in_errors=True
    )
    # Write the defaults out too (the stored document then reads alike to anyone who reads it raw).
    DUMP_DEFAULTS: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        return {key: value for key, value in data.items() if value is not None} if isinstance(data, dict) else data

    @classmethod
    def parse(cls, raw: Any) -> Self:
        """The document as stored (a decoded value, JSON text, or SQL NULL: all defaults)."""
        return cls.model_validate(cls._object(raw))

    @classmethod
    def parse_only(cls, raw: Any, *keys: str) -> Self:
        """The document with only `keys` (camelCase) read, the others left at their defaults: for a reader
        that needs those keys of a document whose other keys may not read."""
        stored = cls._object(raw)
        return cls.model_validate({key: stored[key] for key in keys if key in stored})

    @classmethod
    def _object(cls, raw: Any) -> dict[str, Any]:
        if raw is None:
            return {}
        if isinstance(raw, str | bytes):
            raw = json.loads(raw)
        if not isinstance(raw, dict):
            raise ValueError(f"{cls.__name__} must be a JSON object, not {type(raw).__name__}")
        return raw

    def dump(self) -> dict[str, Any]:
        """The document to store: the keys it was read or built with, or with `DUMP_DEFAULTS` every key (absent
        and null both mean the default)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=not self.DUMP_DEFAULTS, exclude_none=True)


def unreadable_keys(error: ValueError) -> list[str]:
    """The top-level keys a parse failed on (none when the document was not an object at all)."""
    if not isinstance(error, ValidationError):
        return []
    return list(dict.fromkeys(str(detail["loc"][0]) for detail in error.errors() if detail["loc"]))
