"""Sharing the event loop between requests. One process serves everyone on one loop, and graphql-core
completes a page of objects without awaiting anything: a read of 9,000 objects (inside the cost limit)
held the loop for ~0.8 s, so `/healthz` and every other client waited that long.

A resolver that hands back a page first takes its turn: once the loop has run for a slice without
coming round to its other callers, the page steps to the back of the queue, so other clients are served
between slices of a big answer. While pages of a request wait for their turn, that request's loaders
hold their batch open, so the nested loads of every page still go out as one statement.
"""

from __future__ import annotations

import asyncio
import time

SLICE_SECONDS = 0.002


class _Round:
    """When the loop last came round to the callers waiting for a turn (one loop per process)."""

    started = time.monotonic()
    marking: asyncio.AbstractEventLoop | None = None  # the loop a mark is queued on (a test may close it)


def _mark_round() -> None:
    _Round.started = time.monotonic()
    _Round.marking = None


class Turns:
    """One request's pages waiting for their turn."""

    def __init__(self) -> None:
        self.waiting = 0

    async def take(self) -> None:
        """Return at once while the current slice lasts; otherwise wait for the next round of the loop.
        The mark is queued before the first waiter, so it runs first in the next round and opens a new
        slice; the waiters behind it go on until that slice is used up, and the rest wait again."""
        if time.monotonic() - _Round.started < SLICE_SECONDS:
            return
        self.waiting += 1
        try:
            while time.monotonic() - _Round.started >= SLICE_SECONDS:
                loop = asyncio.get_running_loop()
                if _Round.marking is not loop:
                    _Round.marking = loop
                    loop.call_soon(_mark_round)
                await asyncio.sleep(0)
        finally:
            self.waiting -= 1
