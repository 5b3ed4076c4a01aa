"""What every "watch my rows" subscription opens with: a signed-in viewer, the watched row (when one is
named) read through the table's visibility rule, and its owner's event channel, whose interruption is
answered UNAVAILABLE. A subscription outlives requests, so each read is on a short database session of its
own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import strawberry
from sqlalchemy import Row, Select

from graph.context import Info
from graph.errors import RequestErrorCode, request_error
from graph.node import input_id
from loaders.session import RequestDb
from services.events import StreamInterrupted, Subscription


def signed_in(info: Info) -> uuid.UUID:
    viewer = info.context.viewer
    if viewer is None:
        raise request_error("Sign in first.", RequestErrorCode.UNAUTHENTICATED)
    return viewer.user_id


async def read(info: Info, statement: Select[Any]) -> list[Row[Any]]:
    """The rows of `statement`, on a short database session of its own."""
    db = RequestDb(info.context.resources.sessionmaker)
    try:
        return list(await db.rows(statement))
    finally:
        await db.close()


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
