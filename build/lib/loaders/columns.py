"""What loaders select. JSONB columns come back as their JSON text and are decoded only when a field
that needs them is resolved: decoding every row's metadata cost ~15% of a 2,000-message read whose
query never asked for it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, Text, cast
from sqlalchemy.dialects.postgresql import JSONB


def row_columns(table: Table, *, exclude: frozenset[str] = frozenset()) -> list[ColumnElement[Any]]:
    return [
        cast(column, Text).label(column.name) if isinstance(column.type, JSONB) else column
        for column in table.c
        if column.name not in exclude
    ]
