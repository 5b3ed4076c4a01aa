"""Live chat: `messageAdded` (replay after a cursor, then live, no gap and no duplicate) and
`chatSessionEvents` (added, edited, deleted, and the assistant's reply as it is written).

The context lives as long as the socket, so nothing here holds a database session: each replay and
each gap fill opens a short one of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from graph.chat.types import MessageNode
from graph.connection import decode_cursor
from graph.context import Context, Info
from graph.errors import RequestErrorCode, bad_input, request_error
from graph.live import Handover
from graph.node import global_id, input_id
from graph.shared_results import derived, shared_payload
from loaders import chat as chat_loaders
from loaders.chat import MESSAGE_ORDERS
from loaders.session import RequestDb
from resolvers.chat_events import DELTA_KIND, MessageEventKind, chat_session_channel, message_row
from services.events import StreamInterrupted

REPLAY_BATCH = 100


@strawberry.type(description="A message was added to the session.")
class MessageAdded:
    message: MessageNode


@strawberry.type(description="A message's text was changed.")
class MessageEdited:
    message: MessageNode


@strawberry.type(description="A message was deleted (it keeps its `seq`).")
class MessageDeleted:
    message: MessageNode


@strawberry.type(
    description="A piece of the assistant's reply as it is written: the pieces of one reply, joined in "
    "`index` order, are the content of the ASSISTANT message that follows as `MessageAdded`. Not stored: "
    "`messageAdded` replays only the final message."
)
class MessageDelta:
    reply_to: strawberry.ID = strawberry.field(description="The user's message being answered.")
    index: int = strawberry.field(description="0, 1, 2... within one reply.")
    delta: str


ChatSessionEvent = Annotated[
    MessageAdded | MessageEdited | MessageDeleted | MessageDelta, strawberry.union("ChatSessionEvent")
]


def _delta(event: dict[str, Any]) -> MessageDelta | None:
    """A delta event as published by the worker; None when it is not one (never trusted blindly)."""
    delta = event.get("delta")
    if not isinstance(delta, dict):
        return None
    try:
        reply_to = uuid.UUID(str(delta["replyTo"]))
        return MessageDelta(
            reply_to=strawberry.ID(global_id("Message", reply_to)), index=int(delta["index"]), delta=str(delta["delta"])
        )
    except (KeyError, TypeError, ValueError):
        return None


_KINDS: dict[str, type[MessageAdded] | type[MessageEdited] | type[MessageDeleted]] = {
    MessageEventKind.ADDED: MessageAdded,
    MessageEventKind.EDITED: MessageEdited,
    MessageEventKind.DELETED: MessageDeleted,
}


def _session_event(event: dict[str, Any]) -> MessageAdded | MessageEdited | MessageDeleted | MessageDelta | None:
    """What `chatSessionEvents` yields for an event; None for one it does not stream."""
    if event.get("kind") == DELTA_KIND:
        return _delta(event)
    kind = _KINDS.get(str(event.get("kind")))
    return kind(message=MessageNode.from_row(message_row(event["message"]))) if kind is not None else None


def _after_seq(after: str) -> int:
    for order in MESSAGE_ORDERS.values():
        try:
            return int(decode_cursor(order, after, argument="after")[0])
        except GraphQLError:
            continue
    raise bad_input("`after` is not a cursor of ChatSession.messages.")


async def _checked_chat_session(info: Info, chat_session_id: str) -> tuple[uuid.UUID, int]:
    """The session's key and current message count, if it is the viewer's; otherwise NOT_FOUND,
    exactly as for a session that does not exist."""
    viewer = info.context.viewer
    if viewer is None:
        raise request_error("Sign in first.", RequestErrorCode.UNAUTHENTICATED)
    pk = input_id(chat_session_id, "ChatSession")
    db = RequestDb(info.context.resources.sessionmaker)
    try:
        row = await chat_loaders.owned_session(db, viewer.user_id, pk) if pk else None
    finally:
        await db.close()
    if row is None or pk is None:
        raise request_error("No such chat session.", RequestErrorCode.NOT_FOUND)
    return pk, int(row.message_count or 0)


async def _replay(
    context: Context, chat_session_id: uuid.UUID, after_seq: int
) -> AsyncGenerator[tuple[int, MessageNode | None], None]:
    """Everything after `after_seq` from the database: (seq, node), node None for deleted ones."""
    while True:
        db = RequestDb(context.resources.sessionmaker)
        try:
            rows = await chat_loaders.messages_after(db, chat_session_id, after_seq, REPLAY_BATCH)
        finally:
            await db.close()
        for row in rows:
            after_seq = row.seq
            yield row.seq, (MessageNode.from_row(row) if row.deleted_at is None else None)
        if len(rows) < REPLAY_BATCH:
            return


def _interrupted(error: StreamInterrupted) -> GraphQLError:
    return request_error(str(error), RequestErrorCode.UNAVAILABLE)


class _AddedAfter:
    """`messageAdded` once live: the messages after `last`, in order. An event that skips a number (one
    went missing in a Redis hiccup) is answered from the database, which has the gap."""

    __slots__ = ("chat_session_id", "context", "last")

    def __init__(self, context: Context, chat_session_id: uuid.UUID, last: int) -> None:
        self.context, self.chat_session_id, self.last = context, chat_session_id, last

    async def step(self, event: dict[str, Any]) -> list[MessageNode]:
        if event.get("kind") != MessageEventKind.ADDED:
            return []
        row = derived(event, "row", message_row, event["message"])
        if row.seq <= self.last:
            return []
        if row.seq == self.last + 1:
            self.last = row.seq
            return [shared_payload(event, "node", MessageNode.from_row, row)]
        missed: list[MessageNode] = []
        async for seq, node in _replay(self.context, self.chat_session_id, self.last):
            self.last = seq
            if node is not None:
                missed.append(node)
        return missed


async def _session_events(event: dict[str, Any]) -> list[Any]:
    node = shared_payload(event, "session-event", _session_event, event)
    return [node] if node is not None else []


@strawberry.type
class ChatSubscription:
    @strawberry.subscription(
        description="Messages added to a session. With `after` (a cursor of "
        "`ChatSession.messages`), first everything after it, then live."
    )
    async def message_added(
        self,
        info: Info,
        chat_session_id: Annotated[strawberry.ID, strawberry.argument(name="sessionId")],
        after: str | None = None,
    ) -> AsyncGenerator[MessageNode, None]:
        after_seq = _after_seq(after) if after is not None else None
        pk, _ = await _checked_chat_session(info, chat_session_id)
        context = info.context
        try:
            async with context.resources.events.listen(chat_session_channel(pk)) as events:
                # Subscribed (confirmed by Redis) before reading: what the database does not have yet
                # arrives as an event, so nothing falls between the two.
                _, count = await _checked_chat_session(info, chat_session_id)
                last = after_seq if after_seq is not None else count
                async for seq, node in _replay(context, pk, last):
                    last = seq
                    if node is not None:
                        yield node
                # Events that arrived during the replay wait in `events`, and are handed over first.
                yield Handover(events, _AddedAfter(context, pk, last).step)  # type: ignore[misc]
        except StreamInterrupted as error:
            raise _interrupted(error) from None

    @strawberry.subscription(
        description="Everything that happens to a session's messages, live, including the assistant's "
        "reply as it is written (`MessageDelta`) before it is added."
    )
    async def chat_session_events(
        self, info: Info, chat_session_id: Annotated[strawberry.ID, strawberry.argument(name="sessionId")]
    ) -> AsyncGenerator[ChatSessionEvent, None]:
        pk, _ = await _checked_chat_session(info, chat_session_id)
        try:
            async with info.context.resources.events.listen(chat_session_channel(pk)) as events:
                yield Handover(events, _session_events)  # type: ignore[misc]
        except StreamInterrupted as error:
            raise _interrupted(error) from None
