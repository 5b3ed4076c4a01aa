"""The reply lifecycle: the answers the assistant owes, their states and the moves between them.

This is the only module that writes `assistant_replies.status`. Every move is one conditional UPDATE that
answers the moved row, or None when the reply was not in a state the move starts from. Replies of one
session are produced one at a time, in `position` order: `claim_next` takes the oldest queued reply of a
session only while none of its replies runs, and the partial unique index `idx_assistant_replies_one_running`
makes a second running reply impossible even when two workers claim at once (the loser's INSERT-free
UPDATE fails, and it leaves the session to the winner).

    queued --claim_next--> running --answer--> answered
                                   --fail----> failed
    queued | running --drop--> dropped      (the session or the message went away)
    running --recover--> queued             (its worker stopped; the sweep)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import AssistantReply
from models.assistant import ReplyStatus
from resolvers.moves import Move, Moves


class ReplyMove(StrEnum):
    CLAIM = "claim"
    ANSWER = "answer"
    FAIL = "fail"
    DROP = "drop"
    RECOVER = "recover"


MOVES: Moves[ReplyMove, ReplyStatus] = Moves(
    {
        ReplyMove.CLAIM: Move(frozenset({ReplyStatus.QUEUED}), ReplyStatus.RUNNING),
        ReplyMove.ANSWER: Move(frozenset({ReplyStatus.RUNNING}), ReplyStatus.ANSWERED),
        ReplyMove.FAIL: Move(frozenset({ReplyStatus.RUNNING}), ReplyStatus.FAILED),
        ReplyMove.DROP: Move(frozenset({ReplyStatus.QUEUED, ReplyStatus.RUNNING}), ReplyStatus.DROPPED),
        ReplyMove.RECOVER: Move(frozenset({ReplyStatus.RUNNING}), ReplyStatus.QUEUED),
    }
)
OPEN = frozenset({ReplyStatus.QUEUED, ReplyStatus.RUNNING})


async def _apply(
    db: AsyncSession, name: ReplyMove, reply_id: uuid.UUID, values: Mapping[str, Any] | None = None
) -> AssistantReply | None:
    move = MOVES[name]
    statement = (
        update(AssistantReply)
        .where(col(AssistantReply.id) == reply_id, col(AssistantReply.status).in_(tuple(move.sources)))
        .values(status=move.target, **(values or {}))
        .returning(col(AssistantReply.id))
    )
    if (await db.execute(statement)).first() is None:
        return None
    return await db.get(AssistantReply, reply_id, populate_existing=True)


def queue(db: AsyncSession, *, session_id: uuid.UUID, user_id: uuid.UUID, reply_to: uuid.UUID) -> AssistantReply:
    """A new reply, queued. The caller holds the session's row lock, so `position` follows commit order."""
    reply = AssistantReply(session_id=session_id, user_id=user_id, reply_to=reply_to)
    db.add(reply)
    return reply


async def has_open_reply(db: AsyncSession, reply_to: uuid.UUID) -> bool:
    query = select(col(AssistantReply.id)).where(
        col(AssistantReply.reply_to) == reply_to, col(AssistantReply.status).in_(tuple(OPEN))
    )
    return (await db.execute(query.limit(1))).first() is not None


async def claim_next(db: AsyncSession, session_id: uuid.UUID, worker: str) -> AssistantReply | None:
    """queued -> running for the session's oldest queued reply, if none of its replies runs. None: nothing
    queued, or another worker is producing this session's replies (it takes the next ones after)."""
    running = exists().where(
        and_(col(AssistantReply.session_id) == session_id, col(AssistantReply.status) == ReplyStatus.RUNNING)
    )
    oldest = (
        select(col(AssistantReply.id))
        .where(col(AssistantReply.session_id) == session_id, col(AssistantReply.status) == ReplyStatus.QUEUED)
        .order_by(col(AssistantReply.position))
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        update(AssistantReply)
        .where(col(AssistantReply.id) == oldest, col(AssistantReply.status) == ReplyStatus.QUEUED, ~running)
        .values(status=ReplyStatus.RUNNING, started_at=func.now(), worker=worker)
        .returning(col(AssistantReply.id))
    )
    try:
        async with db.begin_nested():
            moved = (await db.execute(statement)).first()
    except IntegrityError:
        return None  # another worker's claim of this session committed first
    if moved is None:
        return None
    return await db.get(AssistantReply, moved[0], populate_existing=True)


async def answer(db: AsyncSession, reply_id: uuid.UUID, message_id: uuid.UUID) -> AssistantReply | None:
    return await _apply(db, ReplyMove.ANSWER, reply_id, {"message_id": message_id, "finished_at": func.now()})


async def fail(db: AsyncSession, reply_id: uuid.UUID, code: str, message_id: uuid.UUID | None) -> AssistantReply | None:
    return await _apply(
        db, ReplyMove.FAIL, reply_id, {"error_code": code, "message_id": message_id, "finished_at": func.now()}
    )


async def drop(db: AsyncSession, reply_id: uuid.UUID) -> AssistantReply | None:
    return await _apply(db, ReplyMove.DROP, reply_id, {"finished_at": func.now()})


async def recover(db: AsyncSession, reply_id: uuid.UUID) -> AssistantReply | None:
    """running -> queued: its worker stopped answering mid-reply; another produces it from the start."""
    return await _apply(db, ReplyMove.RECOVER, reply_id, {"worker": None, "started_at": None})


async def running_replies(db: AsyncSession, limit: int = 500) -> list[tuple[uuid.UUID, str | None]]:
    """(reply, worker) of every running reply, for the sweep to check its worker is alive."""
    query = select(col(AssistantReply.id), col(AssistantReply.worker)).where(
        col(AssistantReply.status) == ReplyStatus.RUNNING
    )
    return [(row[0], row[1]) for row in (await db.execute(query.limit(limit))).all()]


async def waiting_sessions(db: AsyncSession, older_than: timedelta, limit: int = 100) -> list[uuid.UUID]:
    """Sessions with a reply queued for longer than `older_than`: their job may be lost (a job for a
    session whose reply runs does nothing, so queueing one more is harmless)."""
    query = (
        select(col(AssistantReply.session_id))
        .where(
            col(AssistantReply.status) == ReplyStatus.QUEUED,
            col(AssistantReply.created_at) < func.now() - older_than,
        )
        .group_by(col(AssistantReply.session_id))
        .limit(limit)
    )
    return list((await db.execute(query)).scalars())
