"""The reply lifecycle against the real table: replies of a session are claimed oldest first, one running at
a time (also when two workers claim at once), every move is conditional, and a reply whose worker died
goes back to the queue."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from tests import factories


async def _queued(pg: asyncpg.Connection, user_id: uuid.UUID, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    session = await factories.session(pg, user_id)
    replies = []
    for n in range(count):
        message = await factories.message(pg, session, content=f"question {n}", seconds=n)
        replies.append(
            await pg.fetchval(
                "INSERT INTO assistant_replies (session_id, user_id, reply_to) VALUES ($1, $2, $3) RETURNING id",
                session,
                user_id,
                message,
            )
        )
    return session, replies


async def test_replies_are_claimed_in_order_one_at_a_time(resources: Any, client: Any, pg: asyncpg.Connection) -> None:
    from resolvers import reply_lifecycle

    user = await client.register()
    session, replies = await _queued(pg, user.pk, 3)
    claimed = []
    for _ in replies:
        async with resources.sessionmaker() as db, db.begin():
            reply = await reply_lifecycle.claim_next(db, session, "worker-a")
            assert reply is not None
            assert await reply_lifecycle.claim_next(db, session, "worker-b") is None  # one runs already
            claimed.append(reply.id)
            message_id = reply.reply_to
        async with resources.sessionmaker() as db, db.begin():
            assert await reply_lifecycle.answer(db, reply.id, message_id) is not None
            assert await reply_lifecycle.answer(db, reply.id, message_id) is None  # conditional: once
    assert claimed == replies
    async with resources.sessionmaker() as db, db.begin():
        assert await reply_lifecycle.claim_next(db, session, "worker-a") is None  # nothing left


async def test_two_workers_claiming_at_once_get_one_reply_between_them(
    resources: Any, client: Any, pg: asyncpg.Connection
) -> None:
    from resolvers import reply_lifecycle

    user = await client.register()
    session, replies = await _queued(pg, user.pk, 2)

    async def claim(worker: str) -> uuid.UUID | None:
        async with resources.sessionmaker() as db, db.begin():
            reply = await reply_lifecycle.claim_next(db, session, worker)
            await asyncio.sleep(0.2)  # hold the claim open while the other tries
            return reply.id if reply is not None else None

    results = await asyncio.gather(*(claim(f"worker-{n}") for n in range(4)))
    assert [result for result in results if result is not None] == [replies[0]]
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM assistant_replies WHERE session_id = $1 AND status = 'running'", session
        )
        == 1
    )


async def test_a_reply_whose_worker_died_is_queued_again(resources: Any, client: Any, pg: asyncpg.Connection) -> None:
    from jobs.context import WorkerDeps
    from jobs.sweep import requeue_replies
    from resolvers import reply_lifecycle

    user = await client.register()
    session, (reply_id,) = await _queued(pg, user.pk, 1)
    async with resources.sessionmaker() as db, db.begin():
        assert await reply_lifecycle.claim_next(db, session, "a-dead-worker") is not None
    assert await requeue_replies(WorkerDeps.of(resources)) >= 1
    assert await pg.fetchval("SELECT status FROM assistant_replies WHERE id = $1", reply_id) == "queued"
