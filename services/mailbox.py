"""A first-in first-out box of items for one reader at a time, without `asyncio.Queue`'s weight.

An idle WebSocket holds two of these (uvicorn's messages to the app, and each subscription's events):
an `asyncio.Queue` is three deques (~760 bytes each, empty) and its bookkeeping, ~2.5 KiB idle; this is
an empty list and, while the reader waits, one future (issue 14 memory, docs/decisions.md).
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
        item = self._items[self._head]
        self._head += 1
        if self._head == len(self._items):
            self._items.clear()
            self._head = 0
        else:
            self._items[self._head - 1] = None  # read: let it go before the rest is
        return item  # type: ignore[return-value]  # a slot is None only once read
