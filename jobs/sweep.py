"""Recovering lost work. The tasks table is the source of truth: a task `running` on a worker that
stopped answering is retried (or failed when out of retries), and a `pending` task whose job vanished
(a Redis restart) is queued again, at most MAX_QUEUE_ATTEMPTS times in a row without a worker picking
it up: then it fails with the reason, rather than being queued every few seconds forever."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from jobs.context import WorkerDeps
from jobs.tasks import apply_move, fail_pending
from models import MCPAgent, Task
from models.agents import AgentConfig
from models.json_document import unreadable_keys
from models.tasks import TaskMeta, TaskStatus
from resolvers import reply_lifecycle, task_lifecycle
from resolvers.assistant import job_timeout_seconds
from services import keys

log = logging.getLogger("gateway.jobs.sweep")
ALIVE_TTL_SECONDS = 15
MAX_QUEUE_ATTEMPTS = 3
REPLY_WAIT = timedelta(seconds=30)


async def heartbeat(deps: WorkerDeps) -> None:
    await deps.redis.set(keys.worker_alive(deps.worker_id), "1", ex=ALIVE_TTL_SECONDS)


async def _worker_alive(deps: WorkerDeps, stored_meta: Any) -> bool:
    try:
        worker_id = TaskMeta.parse_only(stored_meta, "worker").worker
    except ValueError:
        return False  # no worker can be named: it is treated as gone
    if not worker_id:
        return False
    return bool(await deps.redis.exists(keys.worker_alive(worker_id)))


def _retries(configuration: Any) -> int:
    try:
        return AgentConfig.parse(configuration).retries
    except ValueError:
        return 0  # an unreadable configuration gives no retries: the task fails with the reason


async def recover_running(deps: WorkerDeps) -> int:
    recovered = 0
    async with deps.sessionmaker() as session:
        running = (
            await session.execute(
                select(col(Task.id), col(Task.meta), col(Task.retry_count), col(MCPAgent.configuration))
                .join(MCPAgent, col(MCPAgent.id) == col(Task.agent_id))
                .where(col(Task.status) == TaskStatus.RUNNING)
            )
        ).all()
    for task_id, meta, retry_count, configuration in running:
        if await _worker_alive(deps, meta):
            continue
        out_of_retries = (retry_count or 0) >= _retries(configuration)

        def move(
            db: AsyncSession, task_id: uuid.UUID = task_id, out_of_retries: bool = out_of_retries
        ) -> Awaitable[Task | None]:
            if out_of_retries:
                return task_lifecycle.abandon(db, task_id, "The worker running the task stopped.")
            return task_lifecycle.recover(db, task_id)

        task = await apply_move(deps, move)
        if task is None:
            continue
        recovered += 1
        log.warning("task %s lost its worker: %s", task_id, "failed" if out_of_retries else "retrying")
        if not out_of_retries:
            await _enqueue(deps, task, configuration)
    return recovered


async def requeue_pending(deps: WorkerDeps) -> int:
    queued = 0
    async with deps.sessionmaker() as session:
        pending = (
            await session.execute(
                select(Task, col(MCPAgent.configuration))
                .join(MCPAgent, col(MCPAgent.id) == col(Task.agent_id))
                .where(col(Task.status) == TaskStatus.PENDING)
            )
        ).all()
    for task, configuration in pending:
        if await deps.queues.is_enqueued(task.id) or not await _still_pending(deps, task.id):
            continue
        attempts = await deps.queues.count_queue_attempt(task.id)
        if attempts > MAX_QUEUE_ATTEMPTS:
            await fail_pending(
                deps, task.id, f"The task was queued {MAX_QUEUE_ATTEMPTS} times and no worker could start it."
            )
            continue
        problem = await _enqueue(deps, task, configuration)
        if problem is None:
            queued += 1
        elif attempts >= MAX_QUEUE_ATTEMPTS:
            await fail_pending(deps, task.id, f"The task could not be queued ({problem}).")
        else:
            log.warning("task %s could not be queued (%s), attempt %d", task.id, problem, attempts)
    return queued


async def _still_pending(deps: WorkerDeps, task_id: uuid.UUID) -> bool:
    """Read again once the mark is found gone: the list above may be seconds old, and a worker clears the
    mark only after its claim has committed, so a task still pending now has no job starting it."""
    async with deps.sessionmaker() as session:
        status = (await session.execute(select(col(Task.status)).where(col(Task.id) == task_id))).scalar_one_or_none()
    return status == TaskStatus.PENDING


async def requeue_replies(deps: WorkerDeps) -> int:
    """Replies whose worker died go back to the queue; sessions whose queued replies waited longer than
    REPLY_WAIT get another job (a job for a busy session ends at once, so an extra one is harmless)."""
    sessions: set[uuid.UUID] = set()
    async with deps.sessionmaker() as db:
        running = await reply_lifecycle.running_replies(db)
    for reply_id, worker in running:
        if worker and await deps.redis.exists(keys.worker_alive(worker)):
            continue
        async with deps.sessionmaker() as db, db.begin():
            moved = await reply_lifecycle.recover(db, reply_id)
        if moved is not None:
            log.warning("reply %s lost its worker: queued again", reply_id)
            sessions.add(moved.session_id)
    async with deps.sessionmaker() as db:
        sessions.update(await reply_lifecycle.waiting_sessions(db, REPLY_WAIT))
    timeout = job_timeout_seconds(deps.settings.assistant_reply_timeout)
    for session_id in sessions:
        await deps.queues.enqueue_reply(session_id, timeout_seconds=timeout)
    return len(sessions)


async def _enqueue(deps: WorkerDeps, task: Task, configuration: Any) -> str | None:
    """None when queued, else what went wrong (stored data the queue cannot take, or Redis away)."""
    try:
        queued = await task_lifecycle.enqueue(deps.queues, task, AgentConfig.parse(configuration))
    except (RedisError, OSError):
        raise
    except ValueError as error:  # the typed documents' parse errors (pydantic's included) are ValueErrors
        unreadable = ", ".join(unreadable_keys(error))
        return f"ValueError on its stored priority or agent configuration{f': {unreadable}' if unreadable else ''}"
    except Exception as error:
        return f"{type(error).__name__} on its stored priority or agent configuration"
    return None if queued else "Redis did not take the job"


async def sweep(deps: WorkerDeps) -> None:
    try:
        await heartbeat(deps)
        recovered = await recover_running(deps)
        queued = await requeue_pending(deps)
        queued += await requeue_replies(deps)
        if recovered or queued:
            log.info("sweep: %d running task(s) recovered, %d pending task(s) queued again", recovered, queued)
    except (RedisError, OSError):
        log.warning("sweep skipped: Redis unreachable")
