"""A table's row as plain JSON and back, for what carries rows outside the database (Redis events, the
document metadata cache). Which values come back as UUIDs and datetimes is read off the table's column
types, so a codec cannot drift from its table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import DateTime, Table
from sqlalchemy.dialects.postgresql import UUID


@dataclass(frozen=True)
class RowCodec:
    uuids: frozenset[str]
    datetimes: frozenset[str]
    left_out: frozenset[str]
    json_text: frozenset[str]  # JSON columns a producer may hand over as text (decoded back to values)

    @classmethod
    def of(cls, table: Table, *, leave_out: Iterable[str] = (), json_text: Iterable[str] = ()) -> RowCodec:
        return cls(
            uuids=frozenset(column.name for column in table.columns if isinstance(column.type, UUID)),
            datetimes=frozenset(column.name for column in table.columns if isinstance(column.type, DateTime)),
            left_out=frozenset(leave_out),
            json_text=frozenset(json_text),
        )

    def encode(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Plain JSON values (UUIDs and datetimes as text), without the left-out columns."""
        kept = {key: value for key, value in values.items() if key not in self.left_out}
        return json.loads(json.dumps(kept, default=str))  # type: ignore[no-any-return]

    def decode(self, values: Mapping[str, Any]) -> SimpleNamespace:
        """The row with its column types back, read by name as a database row is (`row.user_id`)."""
        row = dict(values)
        for key in self.uuids.intersection(row):
            if row[key]:
                row[key] = uuid.UUID(row[key])
        for key in self.datetimes.intersection(row):
            if row[key]:
                row[key] = datetime.fromisoformat(row[key])
        for key in self.json_text.intersection(row):
            if isinstance(row[key], str):
                row[key] = json.loads(row[key])
        return SimpleNamespace(**row)
