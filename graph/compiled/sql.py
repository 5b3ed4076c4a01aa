"""Plan -> one SQL statement whose single value is the JSON text of the answer, printed as the resolver
path prints it: global IDs (graph/node.py), cursors (graph/connection.py), DateTime (`isoformat()`),
enums by name. Each page is a correlated subquery over the index (`ORDER BY ... LIMIT n + 1`), so it
costs the same whatever the parent's size."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer
from sqlalchemy.dialects.postgresql import UUID

from graph.compiled.plan import ConnectionPlan, Constant, ObjectPlan, PagePart, RelationPlan, Value
from graph.compiled.statement import VIEWER_STAND_IN, Statement
from graph.compiled.tables import TABLES, TableSpec
from loaders.pagination import Order


def _record(entries: list[tuple[str, str]]) -> str:
    """A JSON object of (key, value expression) in order, printed compactly (`json_build_object` pads with
    spaces: a third more bytes on the headline read). Keys are GraphQL names of at most 63 bytes (plan.py)."""
    columns = ", ".join(f'{expression} AS "{key}"' for key, expression in entries)
    return f"(SELECT row_to_json(_r) FROM (SELECT {columns}) _r)"


def _array(expression: str, order: str, within: str) -> str:
    """A compact JSON array of the page's rows (`json_agg` separates items with a space)."""
    return f"coalesce(array_to_json(array_agg({expression} {order}) {within}), '[]'::json)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _base64(text_sql: str) -> str:
    return f"replace(encode(convert_to({text_sql}, 'UTF8'), 'base64'), E'\\n', '')"


def _iso(column: str) -> str:
    """Python's `datetime.isoformat()` of an aware UTC value: microseconds only when not zero."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN date_part('microseconds', {column})::bigint % 1000000 <> 0 THEN to_char({utc}, '.US') "
        "ELSE '' END || '+00:00' END"
    )


def _value(value: Value, alias: str, type_name: str) -> str:
    column = f"{alias}.{value.column}"
    if value.kind == "id":
        return f"to_json({_base64(_quote(type_name + ':') + f' || {column}::text')})"
    if value.kind == "datetime":
        return f"to_json({_iso(column)})"
    if value.kind == "enum":
        cases = " ".join(f"WHEN {_quote(stored)} THEN {_quote(name)}" for stored, name in value.enum)
        return f"to_json(CASE {column}::text {cases} END)"
    return f"to_json({column})"


def _object(statement: Statement, plan: ObjectPlan, alias: str) -> str:
    entries: list[tuple[str, str]] = []
    for entry in plan.fields:
        if isinstance(entry, Constant):
            expression = f"to_json({_quote(entry.value)}::text)"
        elif isinstance(entry, Value):
            expression = _value(entry, alias, plan.table.type_name)
        elif isinstance(entry, RelationPlan):
            expression = _relation(statement, entry, alias)
        else:
            expression = connection(statement, entry, f"{alias}.id")
        entries.append((entry.key, expression))
    return _record(entries)


def visible_object(statement: Statement, plan: ObjectPlan, table: TableSpec, key: str) -> str:
    """The JSON of the row of `table` whose id is `key` (an SQL expression) while the viewer may read it
    (the loaders' rule by id), else NULL."""
    alias = statement.alias()
    rows = statement.rows(table.visible(VIEWER_STAND_IN))
    return f"(SELECT {_object(statement, plan, alias)} FROM ({rows}) {alias} WHERE {alias}.id = {key})"


def _relation(statement: Statement, plan: RelationPlan, alias: str) -> str:
    return visible_object(statement, plan.node, TABLES[plan.spec.target], f"{alias}.{plan.spec.column}")


def _cursor(order: Order, alias: str) -> str:
    values = []
    for key in order.keys:
        column = f"{alias}.{key.name}"
        if isinstance(key.type, DateTime):
            values.append(f"to_json({_iso(column)})::text")
        elif isinstance(key.type, Integer):
            values.append(f"{column}::text")
        else:
            values.append(f"to_json({column}::text)::text")
    raw = f"'[\"{order.name}\",[' || " + " || ',' || ".join(values) + " || ']]'"
    return f"rtrim(translate({_base64(raw)}, '+/', '-_'), '=')"


def _sql_type(key: Any) -> str:
    if isinstance(key.type, DateTime):
        return "timestamptz"
    if isinstance(key.type, UUID):
        return "uuid"
    return "bigint" if isinstance(key.type, Integer) else "text"


def _keyset(statement: Statement, order: Order, values: tuple[Any, ...], alias: str, *, reverse: bool) -> str:
    descending = order.descending != reverse
    keys = ", ".join(f"{alias}.{key.name}" for key in order.keys)
    bound = ", ".join(
        statement.bind(_plain(value), _sql_type(key)) for key, value in zip(order.keys, values, strict=True)
    )
    return f"({keys}) {'<' if descending else '>'} ({bound})"


def _plain(value: Any) -> Any:
    return value if isinstance(value, datetime | uuid.UUID | int) else str(value)


def connection(statement: Statement, plan: ConnectionPlan, parent: str) -> str:
    """A page of the loaders' rows (`plan.rows`, a page spec) of one parent: the rows are the spec's select
    as a derived table, which PostgreSQL flattens, so the page reads the (parent, order) index."""
    request = plan.request
    inner, row = statement.alias(), statement.alias()
    order = request.order
    where = [f"{inner}.{plan.rows.parent.name} = {parent}"]
    if request.after is not None:
        where.append(_keyset(statement, order, request.after, inner, reverse=False))
    if request.before is not None:
        where.append(_keyset(statement, order, request.before, inner, reverse=True))
    ordering = ", ".join(f"{inner}.{key.name} {'DESC' if desc else 'ASC'}" for key, desc in _directions(plan))
    size = request.size
    cursor = _cursor(order, inner) if _needs_cursor(plan) else "NULL::text"
    selected = ", ".join(f"{inner}.{column}" for column in sorted(_columns(plan)))
    page = (
        f"SELECT {selected}, {cursor} AS _cursor, row_number() OVER (ORDER BY {ordering}) AS _rank "
        f"FROM ({_rows(statement, plan)}) {inner} WHERE {' AND '.join(where)} ORDER BY {ordering} LIMIT {size + 1}"
    )
    shown = f"ORDER BY {row}._rank {'DESC' if request.backwards else 'ASC'}"
    within = f"FILTER (WHERE {row}._rank <= {size})"
    more = f"coalesce(max({row}._rank), 0) > {size}"
    entries = [(part.key, _part(statement, part, plan, row, shown, within, more, parent)) for part in plan.parts]
    # `GROUP BY ()`: one answer even for an empty page, whichever parts are asked for.
    return f"(SELECT {_record(entries)} FROM ({page}) {row} GROUP BY ())"


def _rows(statement: Statement, plan: ConnectionPlan) -> str:
    return statement.rows(plan.rows.base.where(*plan.rows.where))


def _columns(plan: ConnectionPlan) -> set[str]:
    """The columns the page's rows must carry: the key, the order's keys, what the nodes show and the keys
    their relations follow (a wide row, say a message's metadata, stays unread)."""
    columns = {"id", *(key.name for key in plan.request.order.keys)}
    for part in plan.parts:
        if part.node is not None:
            for entry in part.node.fields:
                if isinstance(entry, Value):
                    columns.add(entry.column)
                elif isinstance(entry, RelationPlan):
                    columns.add(entry.spec.column)
    return columns


def _needs_cursor(plan: ConnectionPlan) -> bool:
    """Cursors cost a base64 per row: printed only when the selection shows one."""
    wanted = {"cursor", "startCursor", "endCursor"}
    return any(isinstance(entry, Value) and entry.column in wanted for part in plan.parts for entry in part.parts)


def _directions(plan: ConnectionPlan) -> list[tuple[Any, bool]]:
    descending = plan.request.order.descending != plan.request.backwards
    return [(key, descending) for key in plan.request.order.keys]


def _part(
    statement: Statement,
    part: PagePart,
    plan: ConnectionPlan,
    row: str,
    shown: str,
    within: str,
    more: str,
    parent: str,
) -> str:
    if part.kind == "typename":
        return f"to_json({_quote(part.parts[0].value if isinstance(part.parts[0], Constant) else '')}::text)"
    if part.kind == "totalCount":
        counted = statement.alias()
        return (
            f"(SELECT count(*) FROM ({_rows(statement, plan)}) {counted} "
            f"WHERE {counted}.{plan.rows.parent.name} = {parent})"
        )
    if part.kind == "nodes":
        assert part.node is not None
        return _array(_object(statement, part.node, row), shown, within)
    if part.kind == "edges":
        entries: list[tuple[str, str]] = []
        for entry in part.parts:
            if isinstance(entry, Constant):
                expression = f"to_json({_quote(entry.value)}::text)"
            elif entry.column == "node":
                assert part.node is not None
                expression = _object(statement, part.node, row)
            else:
                expression = f"to_json({row}._cursor)"
            entries.append((entry.key, expression))
        return _array(_record(entries), shown, within)
    return _page_info(part, plan, row, within, more)


def _page_info(part: PagePart, plan: ConnectionPlan, row: str, within: str, more: str) -> str:
    request = plan.request
    forward_order, backward_order = (
        (f"{row}._rank DESC", f"{row}._rank")
        if request.backwards
        else (
            f"{row}._rank",
            f"{row}._rank DESC",
        )
    )
    answers = {
        "hasNextPage": f"to_json({'true' if request.before is not None else 'false'})"
        if request.backwards
        else f"to_json({more})",
        "hasPreviousPage": f"to_json({more})"
        if request.backwards
        else f"to_json({'true' if request.after is not None else 'false'})",
        "startCursor": f"to_json((array_agg({row}._cursor ORDER BY {forward_order}) {within})[1])",
        "endCursor": f"to_json((array_agg({row}._cursor ORDER BY {backward_order}) {within})[1])",
    }
    entries = []
    for entry in part.parts:
        expression = f"to_json({_quote(entry.value)}::text)" if isinstance(entry, Constant) else answers[entry.column]
        entries.append((entry.key, expression))
    return _record(entries)
