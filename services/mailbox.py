"""Light stand-ins for `asyncio.Queue` and `asyncio.Event`, for what every idle WebSocket holds.

An idle socket held two queues (uvicorn's messages to the app, and each subscription's events) and an event
(uvicorn's "the transport is writable"): an `asyncio.Queue` is three deques (~760 bytes each, empty) and its
bookkeeping, ~2.5 KiB idle, an `asyncio.Event` one deque. `Mailbox` is an empty list and, while its reader
waits, one future; `Flag` a boolean and, while someone waits, one future (issue 14 memory,
docs/decisions.md).
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    __slots__ = ("_head", "_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[T | None] = []
        self._head = 0  # index of the next item to read in `_items`
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items) - self._head

    def empty(self) -> bool:
        return self._head == len(self._items)

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._items, self._head = [], 0

    async def get(self) -> T:
        """The oldest item, waiting for one if there is none. One reader at a time."""
        while self._head == len(self._items):
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        return self.get_nowait()

    def get_nowait(self) -> T:
        """The oldest item; only when there is one (`empty()` is False)."""
        item = self._items[self._head]
        self._head += 1
        if self._head == len(self._items):
            self._items.clear()
            self._head = 0
        else:
            self._items[self._head - 1] = None  # read: let it go before the rest is
        return item  # type: ignore[return-value]  # a slot is None only once read


class Flag:
    """`asyncio.Event`'s `set`, `clear`, `is_set` and `wait`, for any number of waiters."""

    __slots__ = ("_future", "_set")

    def __init__(self) -> None:
        self._set = False
        self._future: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        future, self._future = self._future, None
        if future is not None and not future.done():
            future.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        """True once set (as `asyncio.Event.wait`, even if cleared again before the waiter runs)."""
        if self._set:
            return True
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        # Shielded: one waiter giving up must not cancel the future the others wait on.
        await asyncio.shield(self._future)
        return True
