"""Recovering lost work. The tasks table is the source of truth: a task `running` on a worker that
stopped answering is retried (or failed when out of retries), and a `pending` task whose job vanished
(a Redis restart) is queued again, at most MAX_QUEUE_ATTEMPTS times in a row without a worker picking
it up: then it fails with the reason, rather than being queued every few seconds forever."""

from __future__ import annotations

import logging
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import select

from jobs.context import WorkerDeps
from jobs.tasks import fail_pending
from models import MCPAgent, Task
from models.tasks import TaskStatus
from resolvers import reply_lifecycle, task_lifecycle
from resolvers.assistant import job_timeout_seconds
from resolvers.task_events import publish_task

log = logging.getLogger("gateway.jobs.sweep")
ALIVE_TTL_SECONDS = 15
MAX_QUEUE_ATTEMPTS = 3
REPLY_WAIT = timedelta(seconds=30)


def alive_key(worker_id: str) -> str:
    return f"worker:alive:{worker_id}"


async def heartbeat(deps: WorkerDeps) -> None:
    await deps.redis.set(alive_key(deps.worker_id), "1", ex=ALIVE_TTL_SECONDS)


async def _worker_alive(deps: WorkerDeps, worker_id: str | None) -> bool:
    if not worker_id:
        return False
    return bool(await deps.redis.exists(alive_key(worker_id)))


async def recover_running(deps: WorkerDeps) -> int:
    recovered = 0
    async with deps.sessions() as session:
        running = (
            await session.execute(
                select(Task.id, Task.meta, Task.retry_count, MCPAgent.configuration)
                .join(MCPAgent, MCPAgent.id == Task.agent_id)
                .where(Task.status == TaskStatus.RUNNING)
            )
        ).all()
    for task_id, meta, retry_count, configuration in running:
        if await _worker_alive(deps, (meta or {}).get("worker")):
            continue
        retries = int((configuration or {}).get("retries") or 0)
        out_of_retries = (retry_count or 0) >= retries
        async with deps.sessions() as db, db.begin():
            task = (
                await task_lifecycle.abandon(db, task_id, "The worker running the task stopped.")
                if out_of_retries
                else await task_lifecycle.recover(db, task_id)
            )
        if task is None:
            continue
        recovered += 1
        log.warning("task %s lost its worker: %s", task_id, "failed" if out_of_retries else "retrying")
        await publish_task(deps.events, task)
        if not out_of_retries:
            await _enqueue(deps, task, configuration or {})
    return recovered


async def requeue_pending(deps: WorkerDeps) -> int:
    queued = 0
    async with deps.sessions() as session:
        pending = (
            await session.execute(
                select(Task, MCPAgent.configuration)
                .join(MCPAgent, MCPAgent.id == Task.agent_id)
                .where(Task.status == TaskStatus.PENDING)
            )
        ).all()
    for task, configuration in pending:
        if await deps.queues.is_enqueued(task.id):
            continue
        attempts = await deps.queues.count_queue_attempt(task.id)
        if attempts > MAX_QUEUE_ATTEMPTS:
            await fail_pending(
                deps, task.id, f"The task was queued {MAX_QUEUE_ATTEMPTS} times and no worker could start it."
            )
            continue
        problem = await _enqueue(deps, task, configuration or {})
        if problem is None:
            queued += 1
        elif attempts >= MAX_QUEUE_ATTEMPTS:
            await fail_pending(deps, task.id, f"The task could not be queued ({problem}).")
        else:
            log.warning("task %s could not be queued (%s), attempt %d", task.id, problem, attempts)
    return queued


async def requeue_replies(deps: WorkerDeps) -> int:
    """Replies whose worker died go back to the queue; sessions whose queued replies waited longer than
    REPLY_WAIT get another job (a job for a busy session ends at once, so an extra one is harmless)."""
    sessions: set[object] = set()
    async with deps.sessions() as db:
        running = await reply_lifecycle.running_replies(db)
    for reply_id, worker in running:
        if await _worker_alive(deps, worker):
            continue
        async with deps.sessions() as db, db.begin():
            moved = await reply_lifecycle.recover(db, reply_id)
        if moved is not None:
            log.warning("reply %s lost its worker: queued again", reply_id)
            sessions.add(moved.session_id)
    async with deps.sessions() as db:
        sessions.update(await reply_lifecycle.waiting_sessions(db, REPLY_WAIT))
    timeout = job_timeout_seconds(deps.settings.assistant_reply_timeout)
    for session_id in sessions:
        await deps.queues.enqueue_reply(session_id, timeout_seconds=timeout)  # type: ignore[arg-type]
    return len(sessions)


async def _enqueue(deps: WorkerDeps, task: Task, configuration: dict[str, object]) -> str | None:
    """None when queued, else what went wrong (stored data the queue cannot take, or Redis away)."""
    try:
        queued = await task_lifecycle.enqueue(deps.queues, task, configuration)
    except (RedisError, OSError):
        raise
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
