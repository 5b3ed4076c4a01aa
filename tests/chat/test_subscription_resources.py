"""Open subscriptions must not hold database connections: a process with many subscribers keeps
serving writes (the pool is 10 + 10 per process)."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.chat.live_client import LiveUser
from tests.live import LiveServer, live_subscribers_at_least, metric
from tests.ws import transport_ws

ADDED = "subscription($id: ID!) { messageAdded(sessionId: $id) { seq } }"


async def _idle_in_transaction(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'"
            )
        )
    finally:
        await connection.close()


async def _settles_to_no_open_transaction(dsn: str, *, within: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while await _idle_in_transaction(dsn) != 0:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def test_thirty_subscriptions_hold_no_connection_and_writes_still_work(
    gateway_a: LiveServer, realtime_env: dict[str, str]
) -> None:
    users = [await LiveUser.register(gateway_a.url) for _ in range(10)]
    sessions = [await user.new_session() for user in users]
    sockets = [transport_ws(gateway_a.ws_url, user.token) for user in users]
    base = metric(gateway_a, "gateway_event_subscribers")
    opened = [await socket.__aenter__() for socket in sockets]
    try:
        for socket, session in zip(opened, sessions, strict=True):
            for number in range(3):  # 30 subscriptions in all
                await socket.subscribe(f"s{number}", ADDED, {"id": session})
        await live_subscribers_at_least(gateway_a, base + 30)
        # The subscriptions' opening reads end in their own time (seconds on a loaded machine): what must
        # hold is that once they have, none of the 30 keeps a transaction open.
        assert await _settles_to_no_open_transaction(realtime_env["DATABASE_URL"])
        sent = await asyncio.wait_for(users[0].send(sessions[0], "still writable"), 10)
        assert sent["seq"] == 1
        for number in range(3):
            assert (await opened[0].next_data(f"s{number}"))["messageAdded"]["seq"] == 1
    finally:
        for socket in sockets:
            await socket.__aexit__(None, None, None)


NESTED = "subscription($id: ID!) { messageAdded(sessionId: $id) { seq session { id messageCount } } }"


async def test_events_with_nested_fields_give_their_connection_back(
    gateway_a: LiveServer, realtime_env: dict[str, str]
) -> None:
    """Each event resolves its nested fields (`Message.session` loads through a loader) on a short
    database session closed before the event is sent: 21 sockets that each received an event hold no
    connection (the pool is 10 + 10), and a plain query still answers at once."""
    users = [await LiveUser.register(gateway_a.url) for _ in range(7)]
    sessions = [await user.new_session() for user in users]
    sockets = [transport_ws(gateway_a.ws_url, user.token) for user in users for _ in range(3)]
    opened = [await socket.__aenter__() for socket in sockets]
    try:
        for index, socket in enumerate(opened):
            await socket.subscribe("nested", NESTED, {"id": sessions[index // 3]})
        await asyncio.sleep(0.5)
        for user, session in zip(users, sessions, strict=True):
            await user.send(session, "hello")
        for index, socket in enumerate(opened):
            event = (await socket.next_data("nested"))["messageAdded"]
            assert event["session"]["id"] == sessions[index // 3]
            assert event["seq"] == 1
        assert await _settles_to_no_open_transaction(realtime_env["DATABASE_URL"])
        answered = await asyncio.wait_for(users[0].gql("{ viewer { id } }", {}), 5)
        assert answered["viewer"]["id"]
        # A second event on every socket still resolves (its session is fresh, not the closed one).
        await users[0].send(sessions[0], "again")
        for socket in opened[:3]:
            assert (await socket.next_data("nested"))["messageAdded"]["session"]["messageCount"] == 2
    finally:
        for socket in sockets:
            await socket.__aexit__(None, None, None)


async def test_the_gateway_connections_end_a_transaction_left_idle(resources) -> None:
    """The backstop: PostgreSQL ends a gateway connection idle inside a transaction for a minute."""
    from sqlalchemy import text

    async with resources.engine.connect() as connection:
        setting = (await connection.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar()
    assert setting == "1min"
