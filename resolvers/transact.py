"""How a use case asks for a database transaction when it must call the outside world between two of
them (habit 10: no network call inside a transaction or under a row lock). The caller decides where the
transactions run: the request's session in the graph, a fresh session per transaction in a job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")


class Transact(Protocol):
    """Run `work` in a transaction of its own: committed when it returns, rolled back when it raises."""

    async def __call__(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T: ...


def transactions_of(sessions: async_sessionmaker[AsyncSession]) -> Transact:
    """Each transaction in a session of its own, closed (its connection back in the pool) at its end."""

    async def transact(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with sessions() as db, db.begin():
            return await work(db)

    return transact
