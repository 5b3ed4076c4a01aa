"""The request's database access: one AsyncSession, serialised, because an AsyncSession cannot run two
operations at once while a request's loaders dispatch concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Executable, Row
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

log = logging.getLogger("gateway.db")


class RequestFinished(RuntimeError):
    """A statement was started after the request closed its session (a batch left behind)."""


class RequestDb:
    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None
        self._closed = False
        self.lock = asyncio.Lock()

    @property
    def opened(self) -> bool:
        """Whether a session was started (a statement ran, or is about to)."""
        return self._session is not None

    @property
    def session(self) -> AsyncSession:
        if self._closed:
            raise RequestFinished("the request's database session is closed")
        if self._session is None:
            self._session = self._factory()
        return self._session

    async def rows(self, stmt: Executable) -> Sequence[Row[Any]]:
        async with self.lock:
            result = await self.session.execute(stmt)
            return result.all()

    async def value(self, sql: str, params: tuple[Any, ...]) -> Any:
        """The first value of `row`."""
        return (await self.row(sql, params))[0]

    async def row(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
        """The one row of a read-only statement given as driver SQL (`$1` parameters) whose select list
        names no table, e.g. the JSON of compiled reads (graph/compiled/). While the request has no
        transaction open, the statement runs alone on a pooled connection in autocommit: one round trip
        instead of BEGIN, the statement and ROLLBACK, and under READ COMMITTED a transaction around a
        single read changes nothing it sees. Once the request's session is open (a statement ran
        before), it runs in that session's transaction, so a request never holds two connections."""
        async with self.lock:
            engine = self._factory.kw.get("bind")
            if self._session is None and not self._closed and isinstance(engine, AsyncEngine):
                async with engine.connect() as connection:
                    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                    return tuple((await autocommit.exec_driver_sql(sql, params)).one())
            connection = await self.session.connection()
            return tuple((await connection.exec_driver_sql(sql, params)).one())

    async def close(self) -> None:
        """End the session; never fails the response. When a field fails, graphql-core cancels its
        siblings, which can leave a loader batch running or a connection busy with a cancelled
        statement: wait for the running statement, and discard a connection that cannot roll back.
        Work that starts later is refused instead of opening a session nobody closes."""
        async with self.lock:
            self._closed = True
            session, self._session = self._session, None
        if session is None:
            return
        try:
            await session.close()
        except Exception:
            log.warning("discarding a database connection left busy", exc_info=True)
            with contextlib.suppress(Exception):
                await session.invalidate()
