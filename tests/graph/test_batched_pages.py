"""Pages of many parents in one statement (issue 14, point 2): a parent holding 20,000 messages batched with
small ones gets the same page as when it is read alone, and the statement reads about a page of its rows
(LATERAL ... LIMIT over the (session_id, seq) index), not all of them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event

from loaders.chat import MESSAGE_ORDERS, MessageFilter, messages_of_session
from loaders.pagination import Page, PageRequest, fetch_pages
from loaders.session import RequestDb
from loaders.tasks import TASK_ORDERS, TaskFilter, tasks_by
from loaders.visibility import tasks
from services.resources import Resources
from tests import factories as f
from tests.graph.paging import new_agent
from tests.graphql_client import SignedUp

BIG = 20_000
SIZE = 20


async def _big_session(pg: asyncpg.Connection, user_id: uuid.UUID) -> uuid.UUID:
    """20,000 messages in one statement; every 500th is soft-deleted (the page must skip it)."""
    session_id = await f.session(pg, user_id, title="big")
    await pg.execute(
        """INSERT INTO messages (session_id, role, content, timestamp, deleted_at, metadata, seq)
           SELECT $1, CASE WHEN n % 2 = 0 THEN 'assistant' ELSE 'user' END, 'message ' || n,
                  $2::timestamptz + n * interval '1 second',
                  CASE WHEN n % 500 = 0 THEN $2::timestamptz END, '{}'::jsonb, n
           FROM generate_series(1, $3::int) AS n""",
        session_id,
        f.BASE_TIME,
        BIG,
    )
    await pg.execute("UPDATE chat_sessions SET message_count = $2 WHERE id = $1", session_id, BIG)
    await pg.execute("ANALYZE messages")
    return session_id


@pytest.fixture
async def parents(pg: asyncpg.Connection, user: SignedUp) -> list[uuid.UUID]:
    """Small, big, small, empty: the batch a page of sessions with their messages makes."""
    small = await f.session(pg, user.pk, title="small")
    for second in range(5):
        await f.message(pg, small, seconds=second, deleted=second == 2)
    big = await _big_session(pg, user.pk)
    other = await f.session(pg, user.pk, title="other")
    for second in range(30):
        await f.message(pg, other, seconds=second, role="assistant" if second % 3 else "user")
    empty = await f.session(pg, user.pk, title="empty")
    return [small, big, other, empty]


@pytest.fixture
async def db(resources: Resources) -> AsyncIterator[RequestDb]:
    request_db = RequestDb(resources.sessionmaker)
    try:
        yield request_db
    finally:
        await request_db.close()


class Captured:
    """The statements (and their parameters) the engine sends while the block runs."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.sent.append((statement, tuple(parameters or ())))


@pytest.fixture
def captured(resources: Resources) -> Iterator[Captured]:
    capture = Captured()
    event.listen(resources.engine.sync_engine, "before_cursor_execute", capture.record)
    try:
        yield capture
    finally:
        event.remove(resources.engine.sync_engine, "before_cursor_execute", capture.record)


def ids(page: Page) -> list[uuid.UUID]:
    return [row.id for row in page.rows]


def _requests(cursor_of: dict[str, tuple[Any, ...]]) -> list[PageRequest]:
    oldest, newest = MESSAGE_ORDERS["OLDEST_FIRST"], MESSAGE_ORDERS["NEWEST_FIRST"]
    return [
        PageRequest(oldest, first=SIZE, filters=MessageFilter()),
        PageRequest(oldest, first=SIZE, after=cursor_of["oldest"], filters=MessageFilter()),
        PageRequest(oldest, last=SIZE, filters=MessageFilter()),
        PageRequest(oldest, last=SIZE, before=cursor_of["oldest"], filters=MessageFilter()),
        PageRequest(newest, first=SIZE, filters=MessageFilter()),
        PageRequest(newest, first=SIZE, after=cursor_of["newest"], filters=MessageFilter()),
        PageRequest(oldest, first=SIZE, filters=MessageFilter(roles=("assistant",))),
        PageRequest(oldest, first=1, filters=MessageFilter()),
    ]


async def test_a_batched_page_is_the_page_each_parent_gets_alone(db: RequestDb, parents: list[uuid.UUID]) -> None:
    small, big, _, _ = parents
    # A cursor between seq 2 and 3 of every session (the smallest id at seq 3): after it starts at seq 3,
    # before it ends at seq 2, in each parent.
    cursor = (3, uuid.UUID(int=0))
    for request in _requests({"oldest": cursor, "newest": (BIG - 40, uuid.UUID(int=0))}):
        spec = messages_of_session(request.filters)  # type: ignore[arg-type]
        batched = await fetch_pages(db, spec, request, parents)
        assert list(batched) == parents
        for parent in parents:
            [alone] = (await fetch_pages(db, spec, request, [parent])).values()
            got = batched[parent]
            assert ids(got) == ids(alone), (request, parent)
            assert (got.has_next_page, got.has_previous_page) == (alone.has_next_page, alone.has_previous_page)
        big_page = batched[big]
        assert len(big_page.rows) == (request.size if request.before is None else 2)  # before seq 3: 1 and 2
        if request.after is None and request.before is None and request.first is not None:
            order = request.order.name
            expected = (
                [n for n in range(1, BIG + 1) if n % 500 and (not request.filters.roles or n % 2 == 0)]  # type: ignore[attr-defined]
                if order == "msq+"
                else [n for n in range(BIG, 0, -1) if n % 500]
            )[: request.size]
            assert [row.seq for row in big_page.rows] == expected
            assert big_page.has_next_page and not big_page.has_previous_page
    # The small session's deleted message is skipped, its page is whole.
    first = await fetch_pages(
        db, messages_of_session(MessageFilter()), _requests({"oldest": cursor, "newest": cursor})[0], parents
    )
    assert [row.seq for row in first[small].rows] == [1, 2, 4, 5]
    assert not first[small].has_next_page and first[parents[3]].rows == []


def _rows_read(plan: dict[str, Any], table: str) -> int:
    """Rows every scan of `table` read in an EXPLAIN ANALYZE plan: those it returned and those its filter
    dropped (both per loop in the plan), over all its loops."""
    total = 0
    if plan.get("Relation Name") == table:
        loops = plan.get("Actual Loops", 1)
        total += round((plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * loops)
        total += round(plan.get("Rows Removed by Index Recheck", 0) * loops)
    for child in plan.get("Plans", ()):
        total += _rows_read(child, table)
    return total


@pytest.mark.parametrize("first", [True, False])
async def test_the_batched_statement_reads_a_page_of_the_big_parent_not_all_of_it(
    db: RequestDb, parents: list[uuid.UUID], captured: Captured, pg: asyncpg.Connection, first: bool
) -> None:
    oldest = MESSAGE_ORDERS["OLDEST_FIRST"]
    request = (
        PageRequest(oldest, first=SIZE, filters=MessageFilter())
        if first
        else PageRequest(oldest, last=SIZE, before=(BIG - 100, uuid.UUID(int=0)), filters=MessageFilter())
    )
    captured.sent.clear()
    pages = await fetch_pages(db, messages_of_session(MessageFilter()), request, parents)
    assert len(pages[parents[1]].rows) == SIZE
    [(statement, parameters)] = [sent for sent in captured.sent if "messages" in sent[0]]
    [explained] = json.loads(await pg.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, *parameters))
    read = _rows_read(explained["Plan"], "messages")
    # Four parents, each reading at most a page and the one past it, plus a sort group and a few deleted
    # rows on the way: far from the big session's 20,000 (a window over each parent read them all).
    assert read <= 4 * (SIZE + 1) + 100, (read, json.dumps(explained["Plan"], indent=1))


async def test_an_agents_tasks_batched_read_a_page_of_the_busy_agent(
    db: RequestDb, pg: asyncpg.Connection, user: SignedUp, captured: Captured
) -> None:
    """`MCPAgent.tasks` for several agents: by start, narrowed to the viewer's own, over (agent_id, user_id,
    started_at) (migration pag1) rather than every task of the busy agent."""
    busy, quiet = await new_agent(pg), await new_agent(pg)
    await pg.execute(
        """INSERT INTO tasks (user_id, agent_id, task_type, input_payload, status, started_at)
           SELECT $1, $2, 'add', '{}'::jsonb, 'completed', $3::timestamptz + n * interval '1 second'
           FROM generate_series(1, $4::int) AS n""",
        user.pk,
        busy,
        f.BASE_TIME,
        BIG,
    )
    for minutes in range(3):
        await f.task(pg, user.pk, quiet, minutes=minutes)
    await pg.execute("ANALYZE tasks")
    spec = tasks_by(tasks.c.agent_id, user.pk)(TaskFilter())
    request = PageRequest(TASK_ORDERS["STARTED_AT_DESC"], first=SIZE, filters=TaskFilter())
    captured.sent.clear()
    batched = await fetch_pages(db, spec, request, [busy, quiet])
    [(statement, parameters)] = [sent for sent in captured.sent if "tasks" in sent[0]]
    for agent_id in (busy, quiet):
        [alone] = (await fetch_pages(db, spec, request, [agent_id])).values()
        assert ids(batched[agent_id]) == ids(alone)
    newest = [row.started_at for row in batched[busy].rows]
    assert newest == sorted(newest, reverse=True) and len(newest) == SIZE and batched[busy].has_next_page
    assert len(batched[quiet].rows) == 3 and not batched[quiet].has_next_page
    [explained] = json.loads(await pg.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, *parameters))
    read = _rows_read(explained["Plan"], "tasks")
    assert read <= 2 * (SIZE + 1) + 100, (read, json.dumps(explained["Plan"], indent=1))
