"""Events through Redis pub/sub, so any gateway process can serve any subscriber.

Each process holds ONE Redis subscription connection and fans events out to local subscribers through
bounded queues. `listen()` returns only once Redis has confirmed the channel subscription: anything
published after that reaches the subscriber, so a subscriber can read the database afterwards and know
that whatever it did not find there will arrive as an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from services.mailbox import Mailbox

log = logging.getLogger("gateway.events")

PUBLISH_TIMEOUT_SECONDS = 1.0
T = TypeVar("T")


class StreamInterrupted(Exception):
    """The event stream broke (Redis went away, or the subscriber fell too far behind)."""


_INTERRUPTED = object()
_TOO_SLOW = object()


def interruption(item: object) -> StreamInterrupted | None:
    """The error a subscriber is told when `item` is the end of its stream, not an event."""
    if item is _INTERRUPTED:
        return StreamInterrupted("The event stream was interrupted; subscribe again with your last cursor.")
    if item is _TOO_SLOW:
        return StreamInterrupted("Events arrived faster than they were read; subscribe again with your last cursor.")
    return None


class Event(dict[str, Any]):
    """An event as the local subscribers of its channel receive it: one object for all of them, so what
    they derive from it (the node a subscription yields) is derived once, by the first that needs it."""

    def derive(self, name: str, build: Callable[[], T]) -> T:
        derived: dict[str, Any] = self.__dict__
        if name not in derived:
            derived[name] = build()
        return derived[name]  # type: ignore[no-any-return]


@dataclass
class Counters:
    published: int = 0
    publish_failures: int = 0
    delivered: int = 0
    dropped_subscribers: int = 0


# Takes an event (or the end of the stream, see `interruption`); False when it holds `limit` already.
Receiver = Callable[[object], bool]


class Subscription:
    """One local subscriber's events, waiting to be read: at most `limit`, then the subscriber is dropped
    (`_TOO_SLOW`). A `Mailbox`, not an `asyncio.Queue`: ~2.5 KiB less per idle subscription.

    Read as an async iterator until it is `handed_over` to a receiver (graph/live.py): from then on each
    event goes straight to the receiver, nothing waits here, and ending the `listen()` block no longer
    unsubscribes (the receiver calls `EventHub.release` when it is done)."""

    __slots__ = ("channel", "closed", "limit", "receiver", "waiting")

    def __init__(self, channel: str, limit: int) -> None:
        self.channel, self.limit, self.closed = channel, limit, False
        self.waiting: Mailbox[Any] = Mailbox()
        self.receiver: Receiver | None = None

    def put(self, item: Any) -> bool:
        """Add an event; False (and nothing added) when `limit` events are already waiting."""
        if self.receiver is not None:
            return self.receiver(item)
        if len(self.waiting) >= self.limit:
            return False
        self.waiting.put_nowait(item)
        return True

    def end(self, reason: object) -> None:
        """Forget what is waiting; the reader is told `reason` next."""
        self.closed = True
        if self.receiver is not None:
            self.receiver(reason)
            return
        self.waiting.clear()
        self.waiting.put_nowait(reason)

    def hand_over(self, receiver: Receiver) -> None:
        """Give what waits, in order, then every later event, to `receiver`."""
        while not self.waiting.empty():
            receiver(self.waiting.get_nowait())
        self.waiting = _NO_MAILBOX
        self.receiver = receiver

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        item = await self.waiting.get()
        failure = interruption(item)
        if failure is not None:
            raise failure
        return item  # type: ignore[no-any-return]


_NO_MAILBOX: Mailbox[Any] = Mailbox()  # what a handed-over subscription keeps instead of its own


@dataclass
class EventHub:
    redis: Redis
    queue_size: int = 1000
    counters: Counters = field(default_factory=Counters)
    _subscribers: dict[str, set[Subscription]] = field(default_factory=dict)
    _confirmed: dict[str, asyncio.Event] = field(default_factory=dict)
    _pubsub: PubSub | None = None
    _reader: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def publish(self, channel: str, event: dict[str, Any]) -> bool:
        """Publish after a commit. A failure is logged and counted, never raised: the write stands and
        subscribers catch up from the database when they resubscribe with their cursor."""
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                await self.redis.publish(channel, json.dumps(event, default=str))
            self.counters.published += 1
            return True
        except (RedisError, OSError, TimeoutError):
            self.counters.publish_failures += 1
            log.warning("could not publish an event on %s", channel, exc_info=True)
            return False

    @contextlib.asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(channel, self.queue_size)
        try:
            # Inside the `try`: a listener cancelled while Redis confirms the channel (a client that
            # completes a subscription as soon as it opens it) was left registered for the process's life.
            await self._add(subscription)
            yield subscription
        finally:
            if subscription.receiver is None:
                await self._remove(subscription)

    async def release(self, subscription: Subscription) -> None:
        """Unsubscribe a handed-over subscription (`Subscription.hand_over`)."""
        await self._remove(subscription)

    async def _add(self, subscription: Subscription) -> None:
        async with self._lock:
            try:
                pubsub = await self._ensure_reader()
            except (RedisError, OSError) as error:
                raise StreamInterrupted("Live events are unavailable right now.") from error
            channel = subscription.channel
            first = channel not in self._subscribers
            self._subscribers.setdefault(channel, set()).add(subscription)
            if first:
                self._confirmed[channel] = asyncio.Event()
                try:
                    await pubsub.subscribe(channel)
                except (RedisError, OSError) as error:
                    self._subscribers[channel].discard(subscription)
                    raise StreamInterrupted("Live events are unavailable right now.") from error
            confirmed = self._confirmed[channel]
        try:
            async with asyncio.timeout(5):
                await confirmed.wait()
        except TimeoutError:
            await self._remove(subscription)
            raise StreamInterrupted("Live events are unavailable right now.") from None

    async def _remove(self, subscription: Subscription) -> None:
        async with self._lock:
            channel = subscription.channel
            members = self._subscribers.get(channel)
            if members is None:
                return
            members.discard(subscription)
            if not members:
                del self._subscribers[channel]
                self._confirmed.pop(channel, None)
                if self._pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await self._pubsub.unsubscribe(channel)

    async def _ensure_reader(self) -> PubSub:
        if self._pubsub is None or self._reader is None or self._reader.done():
            self._pubsub = self.redis.pubsub()
            # A connection must exist before the reader starts waiting on it.
            await self._pubsub.ping()
            self._reader = asyncio.create_task(self._read(self._pubsub))
        return self._pubsub

    async def _read(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
                if message is None:
                    continue
                kind, channel = message["type"], message["channel"]
                if isinstance(channel, bytes):
                    channel = channel.decode()
                if kind == "subscribe" and channel in self._confirmed:
                    self._confirmed[channel].set()
                elif kind == "message":
                    self._deliver(channel, message["data"])
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError):
            log.warning("lost the Redis event subscription; interrupting local subscribers")
        await self._interrupt_all(pubsub)

    def _deliver(self, channel: str, data: Any) -> None:
        try:
            event = json.loads(data)
        except ValueError:
            log.warning("ignoring a malformed event on %s", channel)
            return
        if isinstance(event, dict):
            event = Event(event)
        for subscription in list(self._subscribers.get(channel, ())):
            if subscription.closed:
                continue
            if subscription.put(event):
                self.counters.delivered += 1
            else:
                subscription.end(_TOO_SLOW)
                self.counters.dropped_subscribers += 1

    async def _interrupt_all(self, pubsub: PubSub) -> None:
        async with self._lock:
            for members in self._subscribers.values():
                for subscription in members:
                    subscription.end(_INTERRUPTED)
            self._subscribers.clear()
            self._confirmed.clear()
            if self._pubsub is pubsub:
                self._pubsub = None
        with contextlib.suppress(Exception):
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub.aclose unannotated

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py

    @property
    def subscriber_count(self) -> int:
        return sum(len(members) for members in self._subscribers.values())
