"""What every "watch my rows" subscription opens with: a signed-in viewer, the watched row (when one is
named) read through the table's visibility rule, and its owner's event channel, whose interruption is
answered UNAVAILABLE; then it goes live as a callback (graph/live.py). A subscription outlives requests, so
each read is on a short database session of its own."""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import strawberry
from sqlalchemy import Row, Select

from graph.context import Context, Info
from graph.errors import RequestErrorCode, request_error
from graph.live import Handover
from graph.node import input_id
from graph.shared_results import derived, shared_payload
from loaders.session import RequestDb
from resolvers.row_events import RowEvents
from services.events import StreamInterrupted, Subscription


def signed_in(info: Info) -> uuid.UUID:
    viewer = info.context.viewer
    if viewer is None:
        raise request_error("Sign in first.", RequestErrorCode.UNAUTHENTICATED)
    return viewer.user_id


async def read(info: Info | Context, statement: Select[Any]) -> list[Row[Any]]:
    """The rows of `statement`, on a short database session of its own."""
    context = info.context if not isinstance(info, Context) else info
    db = RequestDb(context.resources.sessionmaker)
    try:
        return list(await db.rows(statement))
    finally:
        await db.close()


def one_of(rows: Select[Any], pk: uuid.UUID) -> Select[Any]:
    """The one row `pk` among `rows` (a table's visibility rule, which selects the row's `id`)."""
    return rows.where(rows.selected_columns["id"] == pk)


async def watched(
    info: Info,
    raw_id: strawberry.ID | None,
    type_name: str,
    visible: Callable[[uuid.UUID], Select[Any]],
) -> uuid.UUID | None:
    """The id of the row a subscription watches (None: it watches them all). A row the viewer cannot read
    (another user's, deleted, malformed id) is NOT_FOUND, as the queries answer it."""
    if raw_id is None:
        return None
    wanted = input_id(raw_id, type_name)
    if wanted is None or not await read(info, visible(wanted)):
        raise request_error(f"No such {type_name.lower()}.", RequestErrorCode.NOT_FOUND)
    return wanted


@contextlib.asynccontextmanager
async def listening(info: Info, channel: str) -> AsyncIterator[Subscription]:
    """The events of `channel`; a stream that Redis interrupts ends with UNAVAILABLE."""
    try:
        async with info.context.resources.events.listen(channel) as events:
            yield events
    except StreamInterrupted as error:
        raise request_error(str(error), RequestErrorCode.UNAVAILABLE) from None


def updates_field(
    node: type[Any],
    argument: str,
    visible: Callable[[uuid.UUID], Select[Any]],
    events: RowEvents[Any],
    *,
    description: str,
) -> Any:
    """A subscription to the changes of the viewer's rows of one table as `events` carries them on their
    owner's channel (each event's row shown as `node`): of all of them, or of the one row the optional ID
    `argument` names, which must be among the viewer's `visible` rows."""
    type_name = node.__strawberry_definition__.name

    async def subscribe(root: Any, info: Info, **arguments: Any) -> AsyncGenerator[Any, None]:
        viewer_id = signed_in(info)
        wanted = await watched(info, arguments.get(argument), type_name, lambda pk: one_of(visible(viewer_id), pk))

        async def step(event: Any) -> list[Any]:
            row = derived(event, "row", events.decode, event)
            if wanted is None or row.id == wanted:
                return [shared_payload(event, "node", node.from_row, row)]
            return []

        async with listening(info, events.channel(viewer_id)) as stream:
            yield Handover(stream, step)

    subscribe.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("root", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("info", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Info),
            inspect.Parameter(argument, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=strawberry.ID | None),
        ],
        return_annotation=AsyncGenerator[node, None],  # type: ignore[valid-type]
    )
    return strawberry.subscription(subscribe, description=description)
