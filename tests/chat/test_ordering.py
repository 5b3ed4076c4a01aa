"""Order and counters that stay true under concurrency: every message takes a gap-free per-session
number from the same UPDATE that counts it; counter, activity time and message commit together; each
message mutation publishes exactly one event to the session's Redis channel after its commit."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
from redis.asyncio import Redis

from tests import factories
from tests.chat.flows import (
    ARCHIVE_SESSION,
    DELETE_MESSAGE,
    EDIT_MESSAGE,
    SEND_MESSAGE,
    UNARCHIVE_SESSION,
    create_session,
    message_rows,
    mutate,
    ok,
    pk,
    problems,
    read_session,
    send,
    session_row,
)
from tests.factories import gid
from tests.graphql_client import GraphQLClient, SignedUp

PAGE = """query($id: ID!, $first: Int, $after: String, $order: MessageOrder!) {
  node(id: $id) { ... on ChatSession {
    messages(first: $first, after: $after, orderBy: $order) {
      pageInfo { hasNextPage endCursor } nodes { id seq content }
    }
  } }
}"""

# One snapshot of a session: its counters and what its committed messages say.
SNAPSHOT = """
SELECT s.message_count, s.last_activity_at,
       (SELECT count(*) FROM messages m WHERE m.session_id = s.id) AS messages,
       (SELECT max(seq) FROM messages m WHERE m.session_id = s.id) AS top_seq,
       (SELECT m.timestamp FROM messages m WHERE m.session_id = s.id ORDER BY m.seq DESC LIMIT 1) AS top_at
FROM chat_sessions s WHERE s.id = $1"""


async def all_messages(
    client: GraphQLClient, user: SignedUp, session_id: str, *, page: int = 20, order: str = "OLDEST_FIRST"
) -> list[dict[str, Any]]:
    """Every message of a session, page by page through the cursors, as a client scrolls."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = await client.data(
            PAGE, {"id": session_id, "first": page, "after": after, "order": order}, token=user.token
        )
        connection = data["node"]["messages"]
        found += connection["nodes"]
        if not connection["pageInfo"]["hasNextPage"]:
            return found
        after = connection["pageInfo"]["endCursor"]


def check_snapshot(row: asyncpg.Record) -> None:
    """What any reader may see at any moment: the counter matches the committed messages, and the
    activity time is that of the last message, because they were written in one transaction."""
    assert row["message_count"] == row["messages"] == (row["top_seq"] or 0), dict(row)
    if row["messages"]:
        assert row["last_activity_at"] == row["top_at"], dict(row)


# --- concurrency ---------------------------------------------------------------------------------------


async def test_fifty_concurrent_sends_are_numbered_1_to_50(
    client: GraphQLClient, pg: asyncpg.Connection, database_url: str, user: SignedUp
) -> None:
    chat = await create_session(client, user, title="Busy")
    session_pk = pk(chat["id"])
    watcher = await asyncpg.connect(_dsn(database_url))
    snapshots: list[asyncpg.Record] = []
    done = asyncio.Event()

    async def watch() -> None:
        # Reads while the sends commit: no reader ever sees a counter out of step with the messages.
        while not done.is_set():
            snapshots.append(await watcher.fetchrow(SNAPSHOT, session_pk))
            await asyncio.sleep(0)

    watching = asyncio.create_task(watch())
    try:
        answers = await asyncio.gather(
            *(mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content=f"message {n}") for n in range(50))
        )
    finally:
        done.set()
        await watching
        await watcher.close()

    assert all(answer["errors"] == [] for answer in answers)
    assert sorted(answer["message"]["seq"] for answer in answers) == list(range(1, 51))
    by_content = {answer["message"]["content"]: answer["message"]["seq"] for answer in answers}
    assert len(by_content) == 50

    rows = await message_rows(pg, session_pk)
    assert [row["seq"] for row in rows] == list(range(1, 51))
    assert {row["content"]: row["seq"] for row in rows} == by_content  # each answer named its own number
    final = await pg.fetchrow(SNAPSHOT, session_pk)
    check_snapshot(final)
    assert final["message_count"] == 50

    assert len(snapshots) > 1
    for snapshot in snapshots:
        check_snapshot(snapshot)
    counts = [snapshot["message_count"] for snapshot in snapshots]
    assert counts == sorted(counts)
    activity = [snapshot["last_activity_at"] for snapshot in snapshots]
    assert activity == sorted(activity), "lastActivityAt went backwards"

    read = await read_session(client, user, chat["id"])
    assert read["messageCount"] == 50
    listed = await all_messages(client, user, chat["id"])
    assert [node["seq"] for node in listed] == list(range(1, 51))
    assert [node["content"] for node in listed] == [row["content"] for row in rows]
    newest_first = await all_messages(client, user, chat["id"], page=15, order="NEWEST_FIRST")
    assert [node["seq"] for node in newest_first] == list(range(50, 0, -1))


def _dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_concurrent_sends_to_different_sessions_do_not_interfere(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    other = await client.register()
    mine_a = await create_session(client, user, title="A")
    mine_b = await create_session(client, user, title="B")
    theirs = await create_session(client, other, title="C")
    plan = [(user, mine_a), (user, mine_b), (other, theirs)] * 20
    answers = await asyncio.gather(
        *(
            mutate(client, SEND_MESSAGE, who, sessionId=chat["id"], content=f"{chat['title']} {n}")
            for n, (who, chat) in enumerate(plan)
        )
    )
    assert all(answer["errors"] == [] for answer in answers)
    for who, chat in ((user, mine_a), (user, mine_b), (other, theirs)):
        rows = await message_rows(pg, chat["id"])
        assert [row["seq"] for row in rows] == list(range(1, 21))
        assert all(row["content"].startswith(chat["title"] + " ") for row in rows)
        check_snapshot(await pg.fetchrow(SNAPSHOT, pk(chat["id"])))
        read = await read_session(client, who, chat["id"])
        assert read["messageCount"] == 20
        assert [edge["node"]["seq"] for edge in read["messages"]["edges"]] == list(range(1, 21))


async def test_numbers_survive_soft_deletes(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    chat = await create_session(client, user)
    sent = [await send(client, user, chat["id"], f"m{n}") for n in range(1, 6)]
    assert [message["seq"] for message in sent] == [1, 2, 3, 4, 5]
    ok(await mutate(client, DELETE_MESSAGE, user, messageId=sent[2]["id"]))
    assert [m["seq"] for m in await all_messages(client, user, chat["id"])] == [1, 2, 4, 5]

    sixth = await send(client, user, chat["id"], "m6")
    assert sixth["seq"] == 6
    listed = await all_messages(client, user, chat["id"], page=2)
    assert [(m["seq"], m["content"]) for m in listed] == [(1, "m1"), (2, "m2"), (4, "m4"), (5, "m5"), (6, "m6")]
    assert [row["seq"] for row in await message_rows(pg, chat["id"])] == [1, 2, 3, 4, 5, 6]
    assert (await session_row(pg, chat["id"]))["message_count"] == 6


async def test_counter_and_activity_commit_with_the_message(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    document = await factories.document(pg, user.pk)
    first = await send(client, user, chat["id"], "one")
    row = await session_row(pg, chat["id"])
    stored = (await message_rows(pg, chat["id"]))[0]
    # One time for both rows: they were written together.
    assert row["last_activity_at"] == stored["timestamp"] == row["updated_at"]
    assert row["message_count"] == first["seq"] == 1
    check_snapshot(await pg.fetchrow(SNAPSHOT, pk(chat["id"])))

    # Refusals change neither the counter nor the activity time.
    other = await client.register()
    theirs = gid("Document", await factories.document(pg, other.pk))
    for fields in (
        {"content": ""},
        {"content": "x" * 10_001},
        {"content": "hi", "attachments": [theirs]},
        {"content": "hi", "attachments": [gid("Document", document)] * 11},
    ):
        payload = await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], **fields)
        assert payload["errors"] and payload["message"] is None
        assert await session_row(pg, chat["id"]) == row
    ok(await mutate(client, ARCHIVE_SESSION, user, sessionId=chat["id"]))
    archived = await session_row(pg, chat["id"])
    assert problems(await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content="hi")) == [
        ("input.sessionId", "INVALID_STATE")
    ]
    assert await session_row(pg, chat["id"]) == archived
    assert (archived["message_count"], archived["last_activity_at"]) == (1, row["last_activity_at"])

    ok(await mutate(client, UNARCHIVE_SESSION, user, sessionId=chat["id"]))
    second = await send(client, user, chat["id"], "two")
    assert second["seq"] == 2
    after = await session_row(pg, chat["id"])
    assert after["message_count"] == 2
    assert after["last_activity_at"] > row["last_activity_at"]
    assert after["last_activity_at"] == (await message_rows(pg, chat["id"]))[1]["timestamp"]


# --- events --------------------------------------------------------------------------------------------


class Channel:
    """A plain Redis subscriber on one session's channel, like another gateway process would be."""

    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
                if message is not None and message["type"] == "message":
                    return json.loads(message["data"])

    async def quiet(self, seconds: float = 0.3) -> bool:
        message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=seconds)
        return message is None


@asynccontextmanager
async def session_channel(redis_url: str, session_pk: uuid.UUID) -> AsyncIterator[Channel]:
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(f"chat:session:{session_pk}")
        async with asyncio.timeout(5):
            while (await pubsub.get_message(timeout=1.0) or {}).get("type") != "subscribe":
                pass
        yield Channel(pubsub)
    finally:
        with suppress(Exception):
            await pubsub.aclose()
        await redis.aclose()


async def test_each_message_mutation_publishes_exactly_one_event_after_commit(
    client: GraphQLClient, pg: asyncpg.Connection, redis_url: str, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    session_pk = pk(chat["id"])
    reply = gid("Message", await factories.message(pg, session_pk, role="assistant", content="Hi, how can I help?"))
    seen: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    async with session_channel(redis_url, session_pk) as channel:

        async def collect(count: int) -> None:
            # On each event, look at the database at once: the write it announces is already committed.
            for _ in range(count):
                event = await channel.next()
                row = await pg.fetchrow("SELECT * FROM messages WHERE id = $1", uuid.UUID(event["message"]["id"]))
                seen.append((event, dict(row) if row else None))

        collector = asyncio.create_task(collect(4))
        sent = await send(client, user, chat["id"], "Book a meeting with Acme")
        # Refusals on the same session publish nothing.
        assert problems(await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content=" ")) == [
            ("input.content", "REQUIRED")
        ]
        assert problems(await mutate(client, EDIT_MESSAGE, user, messageId=reply, content="No")) == [
            ("input.messageId", "FORBIDDEN")
        ]
        assert problems(await mutate(client, EDIT_MESSAGE, user, messageId=sent["id"], content="")) == [
            ("input.content", "REQUIRED")
        ]
        edited = ok(
            await mutate(client, EDIT_MESSAGE, user, messageId=sent["id"], content="Book a meeting with Globex")
        )["message"]
        deleted = ok(await mutate(client, DELETE_MESSAGE, user, messageId=sent["id"]))["message"]
        assert problems(await mutate(client, DELETE_MESSAGE, user, messageId=sent["id"])) == [
            ("input.messageId", "NOT_FOUND")
        ]
        # A last send marks the end: everything before it has been delivered by then.
        marker = await send(client, user, chat["id"], "Thanks")
        async with asyncio.timeout(10):
            await collector
        assert await channel.quiet()

    events = [event for event, _ in seen]
    assert [(e["kind"], e["message"]["id"], e["message"]["seq"]) for e in events] == [
        ("added", str(pk(sent["id"])), 2),
        ("edited", str(pk(edited["id"])), 2),
        ("deleted", str(pk(deleted["id"])), 2),
        ("added", str(pk(marker["id"])), 3),
    ]
    assert all(e["message"]["session_id"] == str(session_pk) for e in events)
    assert events[0]["message"]["content"] == "Book a meeting with Acme"
    assert events[1]["message"]["content"] == "Book a meeting with Globex"
    assert events[1]["message"]["edited_at"] is not None
    assert events[2]["message"]["deleted_at"] is not None

    added_row, edited_row, deleted_row, marker_row = (row for _, row in seen)
    assert added_row is not None and added_row["seq"] == 2
    assert edited_row is not None and edited_row["content"] == "Book a meeting with Globex"
    assert edited_row["edited_at"] is not None
    assert deleted_row is not None and deleted_row["deleted_at"] is not None
    assert marker_row is not None and marker_row["seq"] == 3


async def test_refused_mutations_publish_nothing(
    client: GraphQLClient, pg: asyncpg.Connection, redis_url: str, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    sent = await send(client, user, chat["id"], "original")
    other = await client.register()
    async with session_channel(redis_url, pk(chat["id"])) as channel:
        # The owner's own refusals...
        await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content="x" * 10_001)
        await mutate(
            client, SEND_MESSAGE, user, sessionId=chat["id"], content="hi", attachments=[gid("Document", uuid.uuid4())]
        )
        await mutate(client, EDIT_MESSAGE, user, messageId=sent["id"], content="   ")
        # ...someone else's attempts on this session...
        for document, fields in (
            (SEND_MESSAGE, {"sessionId": chat["id"], "content": "hi"}),
            (EDIT_MESSAGE, {"messageId": sent["id"], "content": "hijack"}),
            (DELETE_MESSAGE, {"messageId": sent["id"]}),
        ):
            assert problems(await mutate(client, document, other, **fields))[0][1] == "NOT_FOUND"
        # ...anonymous ones, and sends to an archived session.
        body = await client.execute(SEND_MESSAGE, {"input": {"sessionId": chat["id"], "content": "hi"}})
        assert body["data"] is None
        ok(await mutate(client, ARCHIVE_SESSION, user, sessionId=chat["id"]))
        await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content="hi")
        await mutate(client, DELETE_MESSAGE, user, messageId=sent["id"])
        assert await channel.quiet(0.5)
    rows = await message_rows(pg, chat["id"])
    assert [(row["content"], row["edited_at"], row["deleted_at"]) for row in rows] == [("original", None, None)]
