"""The process's event hub on a real Redis: one subscription per channel, bounded queues per listener."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from services.events import EventHub, StreamInterrupted


@pytest.fixture
async def hub(redis_url: str):
    redis = Redis.from_url(redis_url, decode_responses=True)
    events = EventHub(redis, queue_size=3)
    yield events
    await events.close()
    await redis.aclose()


async def test_listeners_of_a_channel_each_get_every_event_in_order(hub: EventHub) -> None:
    channel = f"test:{uuid.uuid4()}"
    async with hub.listen(channel) as first, hub.listen(channel) as second:
        for number in range(3):
            assert await hub.publish(channel, {"n": number})
        got_first = [(await asyncio.wait_for(anext(first), 5))["n"] for _ in range(3)]
        got_second = [(await asyncio.wait_for(anext(second), 5))["n"] for _ in range(3)]
    assert got_first == got_second == [0, 1, 2]
    assert hub.subscriber_count == 0


async def test_a_listener_that_falls_behind_is_dropped_not_buffered_without_bound(hub: EventHub) -> None:
    channel = f"test:{uuid.uuid4()}"
    async with hub.listen(channel) as slow, hub.listen(channel) as keeping_up:
        for number in range(5):  # the queue holds 3
            await hub.publish(channel, {"n": number})
            assert (await asyncio.wait_for(anext(keeping_up), 5))["n"] == number
        with pytest.raises(StreamInterrupted):
            await asyncio.wait_for(anext(slow), 5)
    assert hub.counters.dropped_subscribers == 1


async def test_listen_returns_only_once_redis_confirmed_the_subscription(hub: EventHub, redis_url: str) -> None:
    channel = f"test:{uuid.uuid4()}"
    other = Redis.from_url(redis_url, decode_responses=True)
    try:
        async with hub.listen(channel) as listener:
            # Published from another connection right away: it must not be lost.
            assert await other.publish(channel, '{"n": 1}') == 1
            assert (await asyncio.wait_for(anext(listener), 5)) == {"n": 1}
    finally:
        await other.aclose()


async def test_a_listener_cancelled_while_it_subscribes_is_not_left_registered(hub: EventHub) -> None:
    """A client that opens and at once completes a subscription cancels it while the hub waits for Redis
    to confirm the channel: the hub must not keep it (nor the channel) for the process's life."""
    for _ in range(20):
        channel = f"test:{uuid.uuid4()}"

        async def listen(name: str = channel) -> None:
            async with hub.listen(name):
                await asyncio.sleep(60)

        task = asyncio.create_task(listen())
        while hub.subscriber_count == 0:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert hub.subscriber_count == 0
