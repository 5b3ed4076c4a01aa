"""Sharing the event loop between requests. One process serves everyone on one loop, and graphql-core
completes a page of objects without awaiting anything: a read of 9,000 objects (inside the cost limit)
held the loop for ~0.8 s, so `/healthz` and every other client waited that long. Resolvers that hand
back a page call `take_turn()` first: once the loop has run for a slice without polling its sockets, the
caller steps to the back of the queue, so other clients are served between slices of a big answer."""

from __future__ import annotations

import asyncio
import time

SLICE_SECONDS = 0.005


class _Turns:
    """When the loop last came round to the waiting callers (roughly: when it last polled for I/O)."""

    last_round = time.monotonic()
    marking: asyncio.AbstractEventLoop | None = None  # the loop a mark is queued on (a test may close it)


def _mark_round() -> None:
    _Turns.last_round = time.monotonic()
    _Turns.marking = None


async def take_turn() -> None:
    """Return at once while the current slice lasts; otherwise wait for the next round of the loop.
    The mark is queued before the first waiter, so it runs first in the next round and opens a new
    slice; the waiters behind it then go on until that slice is used up, and the rest wait again."""
    while time.monotonic() - _Turns.last_round >= SLICE_SECONDS:
        loop = asyncio.get_running_loop()
        if _Turns.marking is not loop:
            _Turns.marking = loop
            loop.call_soon(_mark_round)
        await asyncio.sleep(0)
