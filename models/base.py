"""Column helpers shared by every table, and the metadata naming convention.

The naming convention reproduces PostgreSQL's own default constraint names (`users_pkey`,
`users_email_key`, `chat_sessions_user_id_fkey`), so the migrated catalogue reads exactly like the
seed schema created by hand would.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text, func, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    # A column declared with `index=True` gets the seed's name for its index: `idx_users_created_at`.
    "ix": "idx_%(table_name)s_%(column_0_N_name)s",
    "ck": "%(table_name)s_%(constraint_name)s_check",
}
metadata: MetaData = SQLModel.metadata


def database_now() -> datetime:
    """The database's `now()` for a column set in a use case: the transaction's time, written with the row
    (an SQL expression in place of a value, which SQLAlchemy accepts on assignment)."""
    return cast(datetime, func.now())


def column_values(model: Any) -> SimpleNamespace:
    """A model instance seen as a row: attributes named by column (`meta` is read as `metadata`)."""
    mapper = sa_inspect(type(model))
    return SimpleNamespace(
        **{column.name: getattr(model, attr.key) for attr in mapper.column_attrs for column in attr.columns}
    )


def table_of(model: type[SQLModel]) -> Table:
    """A table model's `Table`, typed (SQLModel leaves `__table__` undeclared)."""
    return cast(Table, sa_inspect(model).local_table)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class Keyed(SQLModel):
    """Every table's key: a UUID made with the model (`new_id`), or by the database (`gen_random_uuid()`) for a
    row inserted without one.

    Declared by type (`sa_type`), not as an `sa_column` object: SQLModel hands an `sa_column` to the table
    as it is, and one column object cannot belong to two tables; from a type it builds one per table."""

    id: uuid.UUID = Field(
        default_factory=new_id,
        primary_key=True,
        sa_type=UUID(as_uuid=True),
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )


def owner_fk(target: str, *, ondelete: str, nullable: bool = False, name: str, index: bool = False) -> Column[Any]:
    return Column(name, UUID(as_uuid=True), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)


def varchar(
    name: str,
    length: int,
    *,
    nullable: bool = True,
    default: str | None = None,
    unique: bool = False,
    index: bool = False,
) -> Column[Any]:
    server_default = text(f"'{default}'::character varying") if default is not None else None
    return Column(name, String(length), nullable=nullable, unique=unique, index=index, server_default=server_default)


def text_col(name: str, *, nullable: bool = True) -> Column[Any]:
    return Column(name, Text, nullable=nullable)


def text_array(name: str) -> Column[Any]:
    return Column(name, ARRAY(Text), nullable=True)


def jsonb(name: str, *, default: str | None = "'{}'::jsonb", nullable: bool = True) -> Column[Any]:
    return Column(name, JSONB, nullable=nullable, server_default=text(default) if default is not None else None)


def tstz(name: str, *, default_now: bool = False, index: bool = False) -> Column[Any]:
    """`timestamptz` where the seed says TIMESTAMP: values are stored as UTC instants."""
    server_default = text("now()") if default_now else None
    return Column(name, DateTime(timezone=True), nullable=True, index=index, server_default=server_default)


def integer(name: str, *, default: int | None = None) -> Column[Any]:
    return Column(name, Integer, nullable=True, server_default=text(str(default)) if default is not None else None)


def boolean(name: str, *, default: bool) -> Column[Any]:
    return Column(name, Boolean, nullable=True, server_default=text("false" if not default else "true"))
