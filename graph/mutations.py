"""How a mutation runs its use case: in the request's session, committed before the payload is built
(a failed commit is an error, never a false success); a rejection rolls back and becomes payload errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from graph.context import Info
from resolvers.transact import Transact

T = TypeVar("T")


async def in_transaction(info: Info, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    db = info.context.db
    async with db.lock:
        session = db.session
        try:
            result = await work(session)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    return result


def transactions(info: Info) -> Transact:
    """Transactions on the request's session, for use cases that call out between them."""

    async def transact(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await in_transaction(info, work)

    return transact
