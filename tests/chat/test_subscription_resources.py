"""Open subscriptions must not hold database connections: a process with many subscribers keeps
serving writes (the pool is 10 + 10 per process)."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.chat.live_client import LiveUser
from tests.live import LiveServer
from tests.ws import transport_ws

ADDED = "subscription($id: ID!) { messageAdded(sessionId: $id) { seq } }"


async def _idle_in_transaction(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction'"))
    finally:
        await connection.close()


async def test_thirty_subscriptions_hold_no_connection_and_writes_still_work(
    gateway_a: LiveServer, realtime_env: dict[str, str]
) -> None:
    users = [await LiveUser.register(gateway_a.url) for _ in range(10)]
    sessions = [await user.new_session() for user in users]
    sockets = [transport_ws(gateway_a.ws_url, user.token) for user in users]
    opened = [await socket.__aenter__() for socket in sockets]
    try:
        for socket, session in zip(opened, sessions, strict=True):
            for number in range(3):  # 30 subscriptions in all
                await socket.subscribe(f"s{number}", ADDED, {"id": session})
        await asyncio.sleep(1.0)
        assert await _idle_in_transaction(realtime_env["DATABASE_URL"]) == 0
        sent = await asyncio.wait_for(users[0].send(sessions[0], "still writable"), 10)
        assert sent["seq"] == 1
        for number in range(3):
            assert (await opened[0].next_data(f"s{number}"))["messageAdded"]["seq"] == 1
    finally:
        for socket in sockets:
            await socket.__aexit__(None, None, None)
