"""Whether an HTTP request's sign-in session has ended, at the cost of one Redis read per sign-in and
process instead of one per request.

A process remembers the sign-ins it has found live, and forgets one as soon as it hears of its end:
`sign_ins.end` tells the watches of its own process directly, and every process hears the revocation
channel through its one event subscription (services/events.py). The memory is trusted only while that
subscription is up: when it breaks (Redis restarted, the process fell behind) everything is forgotten and
each request reads Redis again until it is back. A remembered sign-in is read again after
`MAX_AGE_SECONDS` whatever happens, which bounds how late an end could be seen if a revocation were lost on
a connection that broke silently. Another process sees an end as late as the channel delivers it (well
under a millisecond on one host)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.events import EventHub, StreamInterrupted
from services.keys import REVOCATIONS_CHANNEL, revoked_sign_in

log = logging.getLogger("gateway.revocations")

MAX_AGE_SECONDS = 30.0
MAX_ENTRIES = 50_000  # sign-ins remembered per process (~200 bytes each); the oldest goes first
RETRY_SECONDS = 1.0

_WATCHES: weakref.WeakSet[RevocationWatch] = weakref.WeakSet()


def ended_here(sign_in_id: str) -> None:
    """A sign-in ended in this process: its watches forget it before the end is even published."""
    for watch in list(_WATCHES):
        watch.forget(sign_in_id)


async def is_revoked(redis: Redis, sign_in_id: str) -> bool:
    return bool(await redis.exists(revoked_sign_in(sign_in_id)))


@dataclass
class Counters:
    redis_reads: int = 0
    remembered: int = 0


class RevocationWatch:
    def __init__(self, redis: Redis, events: EventHub, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._redis, self._events, self._clock = redis, events, clock
        self._live: dict[str, float] = {}  # sign-in id -> when Redis said it had not ended
        self._generation = 0  # moves on every end heard and every change of the subscription
        self._listening = False
        self._task: asyncio.Task[None] | None = None
        self.counters = Counters()
        _WATCHES.add(self)

    async def is_revoked(self, sign_in_id: str) -> bool:
        """Raises what the Redis read raises when the answer is not remembered."""
        self._ensure_listening()
        now = self._clock()
        seen = self._live.get(sign_in_id)
        if seen is not None and self._listening and now - seen < MAX_AGE_SECONDS:
            self.counters.remembered += 1
            return False
        generation = self._generation
        self.counters.redis_reads += 1
        revoked = await is_revoked(self._redis, sign_in_id)
        # Remembered only if nothing was heard while the read was out: an end published just after the
        # read started could otherwise be forgotten before it was remembered.
        if not revoked and self._listening and generation == self._generation:
            self._live.pop(sign_in_id, None)
            if len(self._live) >= MAX_ENTRIES:
                del self._live[next(iter(self._live))]
            self._live[sign_in_id] = now
        return revoked

    def forget(self, sign_in_id: str) -> None:
        self._generation += 1
        self._live.pop(sign_in_id, None)

    @property
    def listening(self) -> bool:
        return self._listening

    def _ensure_listening(self) -> None:
        task = self._task
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            self._stopped()
            self._task = loop.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                async with self._events.listen(REVOCATIONS_CHANNEL) as subscription:
                    self._listening = True
                    self._generation += 1
                    async for event in subscription:
                        sign_in_id = event.get("sid")
                        if isinstance(sign_in_id, str):
                            self.forget(sign_in_id)
            except (StreamInterrupted, RedisError, OSError):
                log.debug("revocation watch lost its subscription; reading Redis on every request until it is back")
            finally:
                self._stopped()
            await asyncio.sleep(RETRY_SECONDS)

    def _stopped(self) -> None:
        self._listening = False
        self._generation += 1
        self._live.clear()

    async def close(self) -> None:
        task, self._task = self._task, None
        self._stopped()
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
