"""The request's database access: one AsyncSession, serialised, because an AsyncSession cannot run two
operations at once while a request's loaders dispatch concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Executable, Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class RequestDb:
    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None
        self.lock = asyncio.Lock()

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._factory()
        return self._session

    async def rows(self, stmt: Executable) -> Sequence[Row[Any]]:
        async with self.lock:
            result = await self.session.execute(stmt)
            return result.all()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
