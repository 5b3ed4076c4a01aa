"""A subscription once live (graph/live.py), on a real Redis and the real schema: what waited during its
opening comes first and in order, it runs no task while no event waits, a reader that falls behind is
told UNAVAILABLE and unsubscribed instead of buffered without bound, and stopping it unsubscribes it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from graphql import ExecutionResult, parse
from redis.asyncio import Redis

from gateway import logs
from gateway.settings import Settings
from graph.chat.subscriptions import MessageDelta
from graph.live import HandedOver, Handover, LiveSubscription
from graph.schema import GatewayExecutionContext, build_schema
from services.events import EventHub

DELTAS = "subscription($id: ID!) { chatSessionEvents(sessionId: $id) { ... on MessageDelta { index delta } } }"


class Socket:
    """The socket end of a live subscription: records what is sent; `hold` keeps a send from finishing,
    as a client that stopped reading does."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.ended: list[ExecutionResult | None] = []
        self.hold = asyncio.Event()
        self.hold.set()

    async def send(self, result: ExecutionResult) -> None:
        await self.hold.wait()
        self.sent.append(result.formatted)

    async def end(self, result: ExecutionResult | None) -> None:
        self.ended.append(result)


@pytest.fixture
async def hub(redis_url: str) -> AsyncIterator[EventHub]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    events = EventHub(redis, queue_size=3)
    yield events
    await events.close()
    await redis.aclose()


@pytest.fixture(scope="module")
def schema() -> Any:
    return build_schema(Settings())


async def _delta(event: dict[str, Any]) -> list[Any]:
    return [MessageDelta(reply_to="r", index=int(event["n"]), delta=str(event["text"]))]


def _handed_over(schema: Any, handover: Handover) -> HandedOver:
    executor = GatewayExecutionContext.build(schema._schema, parse(DELTAS), raw_variable_values={"id": "x"})
    assert isinstance(executor, GatewayExecutionContext)
    result = executor.build_per_event_executor(handover).execute_operation(False)
    assert isinstance(result.data, HandedOver)
    return result.data


async def _until(condition: Any, seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


async def test_what_waited_comes_first_then_live_events_in_order_with_no_task_between(
    hub: EventHub, schema: Any
) -> None:
    channel = f"test:{uuid.uuid4()}"
    socket = Socket()
    async with hub.listen(channel) as events:
        await hub.publish(channel, {"n": 0, "text": "during the opening"})
        await _until(lambda: not events.waiting.empty())
        live = LiveSubscription(_handed_over(schema, Handover(events, _delta)), hub, schema, socket)
    # The opening's `listen()` block has ended: the subscription stays, now the live one's.
    assert hub.subscriber_count == 1
    for number in (1, 2):
        await hub.publish(channel, {"n": number, "text": "live"})
    await _until(lambda: len(socket.sent) == 3)
    assert [frame["data"]["chatSessionEvents"]["index"] for frame in socket.sent] == [0, 1, 2]
    assert live.draining is None and live.pending is None  # idle: no task, nothing waiting
    await live.stop()
    assert hub.subscriber_count == 0
    assert socket.ended == []  # stopped by the client: nothing more is sent


async def test_a_reader_that_falls_behind_is_told_unavailable_and_unsubscribed(hub: EventHub, schema: Any) -> None:
    channel = f"test:{uuid.uuid4()}"
    socket = Socket()
    async with hub.listen(channel) as events:
        live = LiveSubscription(_handed_over(schema, Handover(events, _delta)), hub, schema, socket)
    socket.hold.clear()  # the client stops reading
    for number in range(6):  # one being sent, 3 waiting (the limit), then more
        await hub.publish(channel, {"n": number, "text": "x"})
    await _until(lambda: hub.counters.dropped_subscribers == 1)
    assert live.pending is not None and len(live.pending) == 1  # what waited was let go
    socket.hold.set()
    await _until(lambda: len(socket.ended) == 1)
    ended = socket.ended[0]
    assert ended is not None and ended.errors is not None
    assert ended.errors[0].extensions == {"code": "UNAVAILABLE"}
    assert "faster than they were read" in ended.errors[0].message
    assert hub.subscriber_count == 0
    assert len(socket.sent) == 1  # the event being sent when it fell behind; nothing after


async def test_the_log_lines_of_a_live_subscriptions_events_carry_its_sockets_request_id(
    hub: EventHub, schema: Any
) -> None:
    channel = f"test:{uuid.uuid4()}"
    seen: list[str | None] = []

    async def step(event: dict[str, Any]) -> list[Any]:
        seen.append(logs.request_id.get())
        return []

    socket = Socket()
    async with hub.listen(channel) as events:
        # Set after the hub's reader started: the reader (whose context each event's task would inherit)
        # belongs to no socket in particular.
        token = logs.request_id.set("req-live")
        try:
            live = LiveSubscription(_handed_over(schema, Handover(events, step)), hub, schema, socket)
        finally:
            logs.request_id.reset(token)
    await hub.publish(channel, {"n": 1, "text": "x"})
    await _until(lambda: seen)
    assert seen == ["req-live"]
    await live.stop()
