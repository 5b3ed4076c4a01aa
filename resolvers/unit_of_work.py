"""The unit of work of a use case: its database transaction (`db`) and what must follow the commit.

Work that follows a commit (publishing an event, queueing a job) is registered by the use case with
`after_commit` while it runs, and runs only once the transaction has committed: a rejected or failed
transaction publishes and queues nothing, and a subscriber or worker that hears of a row can read it.
A failing hook is logged; the commit stands and so does the answer (subscribers catch up from the
database, the worker's sweep queues what was not queued).

The caller decides where the transaction runs: the graph runs a mutation's unit of work on the request's
session (graph/mutations.py), a job on a fresh session of its own (`run_unit_of_work`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Task
from models.agents import AgentConfig
from resolvers import task_lifecycle
from services.events import EventHub
from services.task_queues import TaskQueues

log = logging.getLogger("gateway.unit_of_work")

T = TypeVar("T")
Hook = Callable[[], Awaitable[object]]


class UnitOfWork:
    def __init__(self, db: AsyncSession, events: EventHub, queues: TaskQueues) -> None:
        self.db = db
        self.events = events
        self.queues = queues
        self._hooks: list[Hook] = []

    def after_commit(self, hook: Hook) -> None:
        """Run `hook` once the transaction has committed (never when it rolls back)."""
        self._hooks.append(hook)

    def publish(self, channel: str, event: dict[str, Any]) -> None:
        """Publish `event` (as it is now) on `channel` after the commit."""
        self.after_commit(lambda: self.events.publish(channel, event))

    def enqueue_task(
        self,
        task: Task,
        stored_configuration: Any,
        *,
        delay: float = 0.0,
        not_before: datetime | None = None,
    ) -> None:
        """Queue a job that moves `task` on, after the commit (the worker must find the row it is about).
        The agent's configuration is read then: one that does not read fails the queueing, which the sweep
        reports, rather than the use case."""
        self.after_commit(
            lambda: task_lifecycle.enqueue(
                self.queues, task, AgentConfig.parse(stored_configuration), delay=delay, not_before=not_before
            )
        )

    async def release(self) -> None:
        """End the transaction so far, so that no connection is held (idle in transaction, or with row
        locks) while the use case calls the outside world (habit 10); the next statement begins a new
        one. Use cases release only after reads and checks: what a later rejection rolls back is what
        came after the release."""
        await self.db.commit()

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run `work` and commit; roll back when it raises (a failed commit raises too). The hooks are
        left for `run_hooks`, which the caller calls once it let go of the session."""
        try:
            result = await work(self)
            await self.db.commit()
        except BaseException:
            self._hooks.clear()
            await self.db.rollback()
            raise
        return result

    async def run_hooks(self) -> None:
        """The after-commit hooks, in the order they were registered; each failure is logged, and the
        others still run."""
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            try:
                await hook()
            except Exception:
                log.exception("an after-commit hook failed; the commit stands")


async def run_unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
    events: EventHub,
    queues: TaskQueues,
    work: Callable[[UnitOfWork], Awaitable[T]],
) -> T:
    """Run `work` as a unit of work on a fresh session (jobs): committed, closed, then its hooks."""
    async with sessions() as db:
        unit = UnitOfWork(db, events, queues)
        result = await unit.run(work)
    await unit.run_hooks()
    return result
