"""A compiled statement as it is written: driver SQL (`$1`, `$2`...: asyncpg's own placeholders, so the text
goes to the driver as it is) and its parameters, into which the loaders' own SQLAlchemy selects are rendered
(`Statement.rows`). The compiled SQL reads the rows the resolvers read by the very conditions they read them
with (loaders/visibility.py, the page specs of loaders/): a rule is written once, in SQLAlchemy."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql.compiler import SQLCompiler


class Key:
    """Stands, in a compiled statement's parameters, for a key bound per request: the parent's id (`SUBJECT`:
    what a connection hangs off) or the viewer's (`VIEWER`). A statement is built once per selection and kept
    (graph/compiled/cache.py); each request binds its own keys in their places (`bind_keys`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


SUBJECT = Key("subject")
VIEWER = Key("viewer")

# The viewer's id handed to the loaders' rules (`visible_tasks(viewer)`, `tasks_by(..., viewer)`) while a
# statement is written: rendered, each parameter equal to it becomes `VIEWER`, so no viewer's id is kept.
VIEWER_STAND_IN = uuid.uuid4()

# A compiled read: driver SQL whose one value is the JSON document, and its parameters.
Compiled = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class Partly:
    """`nodes(ids:)` whose IDs name compiled types and types whose resolver answers from a cache
    (graph/compiled/tables.py `CACHED_BY_ID`): one statement whose value is an array holding each ID's
    JSON (`null` where the resolver answers), and the IDs the resolver answers, by position."""

    statement: Compiled
    resolved: tuple[tuple[int, str, uuid.UUID], ...]  # (position, type name, key)


# What a field compiles to, when it compiles.
Answerable = Compiled | Partly

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]
PLACEHOLDER = re.compile(r"\$(\d+)")


@dataclass
class Statement:
    params: list[Any] = field(default_factory=list)
    aliases: int = 0

    def bind(self, value: Any, sql_type: str) -> str:
        self.params.append(value)
        return f"CAST(${len(self.params)} AS {sql_type})"

    def alias(self) -> str:
        self.aliases += 1
        return f"a{self.aliases}"

    def rows(self, select: Select[Any]) -> str:
        """`select` as SQL text whose parameters (values processed for the driver as SQLAlchemy processes
        them, `IN` lists expanded) join this statement's."""
        compiled = select.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
        assert isinstance(compiled, SQLCompiler)
        names = compiled.positiontup or []
        values = compiled.construct_params()
        processors = compiled._bind_processors

        def parameter(match: re.Match[str]) -> str:
            name = names[int(match.group(1)) - 1]
            value = values[name]
            if isinstance(value, uuid.UUID) and value == VIEWER_STAND_IN:
                value = VIEWER
            else:
                process = processors.get(name)
                value = process(value) if callable(process) else value
            self.params.append(value)
            return f"${len(self.params)}"

        return PLACEHOLDER.sub(parameter, compiled.string)


def bind_keys(params: tuple[Any, ...], subject: uuid.UUID, viewer: uuid.UUID) -> tuple[Any, ...]:
    return tuple(subject if value is SUBJECT else viewer if value is VIEWER else value for value in params)


def document(json_sql: str, statement: Statement | None = None) -> Compiled:
    """The statement answering `json_sql`'s JSON as UTF-8 bytes (`bytea` travels as it is), which the
    response splices without decoding them into a str and encoding them again."""
    params = tuple(statement.params) if statement is not None else ()
    return f"SELECT convert_to(({json_sql})::text, 'UTF8')", params
