"""The task lifecycle: its states, the moves allowed between them, and queueing a task for the worker.

This is the only module that writes `tasks.status`, and the only one that writes the task log (`task_logs`):
every move leaves a line there, with the error and the run time where it has them. Every move is one
conditional UPDATE (`WHERE status IN sources`) that answers the moved row, or None when the task was not in a
state the move starts from (another worker, a cancel or the sweep got there first): the table stays the source
of truth under races. The moves run inside the caller's transaction; publishing the event and queueing a job
are for after its commit.

    pending --claim--> running --finish--> completed | failed
    pending | running --cancel--> cancelled
    pending --fail_before_start--> failed        (it cannot start: dependency failed, agent removed, ...)
    running --recover--> pending                 (its worker died and it has retries left)
    failed --retry--> pending                    (`retryTask`)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, cast, func, insert, literal, null, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from models import Task, TaskLog
from models.agents import AgentConfig
from models.base import new_id, utcnow
from models.tasks import LOG_MESSAGE_MAX, TaskLogEvent, TaskMeta, TaskPriority, TaskStatus
from resolvers.moves import Move, Moves
from services.task_queues import TaskQueues

log = logging.getLogger("gateway.tasks")


class TaskMove(StrEnum):
    CLAIM = "claim"
    COMPLETE = "complete"
    FAIL = "fail"
    CANCEL = "cancel"
    RETRY = "retry"
    RECOVER = "recover"
    FAIL_BEFORE_START = "fail_before_start"


MOVES: Moves[TaskMove, TaskStatus] = Moves(
    {
        TaskMove.CLAIM: Move(frozenset({TaskStatus.PENDING}), TaskStatus.RUNNING),
        TaskMove.COMPLETE: Move(frozenset({TaskStatus.RUNNING}), TaskStatus.COMPLETED),
        TaskMove.FAIL: Move(frozenset({TaskStatus.RUNNING}), TaskStatus.FAILED),
        TaskMove.CANCEL: Move(frozenset({TaskStatus.PENDING, TaskStatus.RUNNING}), TaskStatus.CANCELLED),
        TaskMove.RETRY: Move(frozenset({TaskStatus.FAILED}), TaskStatus.PENDING),
        TaskMove.RECOVER: Move(frozenset({TaskStatus.RUNNING}), TaskStatus.PENDING),
        TaskMove.FAIL_BEFORE_START: Move(frozenset({TaskStatus.PENDING}), TaskStatus.FAILED),
    }
)
FINISHED = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
LOGGED_AS: Mapping[TaskMove, TaskLogEvent] = {
    TaskMove.CLAIM: TaskLogEvent.CLAIMED,
    TaskMove.COMPLETE: TaskLogEvent.COMPLETED,
    TaskMove.FAIL: TaskLogEvent.FAILED,
    TaskMove.CANCEL: TaskLogEvent.CANCELLED,
    TaskMove.RETRY: TaskLogEvent.RETRIED,
    TaskMove.RECOVER: TaskLogEvent.RECOVERED,
    TaskMove.FAIL_BEFORE_START: TaskLogEvent.FAILED,
}


may_move = MOVES.may_move
_TASKS = Task.__table__  # type: ignore[attr-defined]
_LOGS = TaskLog.__table__  # type: ignore[attr-defined]


def _log_row(
    task_id: uuid.UUID,
    event: TaskLogEvent,
    *,
    status: TaskStatus | None = None,
    attempt: Any = None,
    message: str | None = None,
    duration_ms: int | None = None,
) -> dict[str, Any]:
    """The values of one task log line (`attempt` may be a column of the statement that writes it)."""
    return {
        "id": new_id(),
        "task_id": task_id,
        "event": event.value,
        "status": status.value if status is not None else None,
        "attempt": attempt,
        "message": message[:LOG_MESSAGE_MAX] if message else None,
        "duration_ms": duration_ms,
        "logged_at": utcnow(),
    }


async def _apply(
    db: AsyncSession,
    name: TaskMove,
    task_id: uuid.UUID,
    values: Mapping[str, Any] | None = None,
    *,
    owner: uuid.UUID | None = None,
    also: ColumnElement[bool] | None = None,
) -> Task | None:
    """The move and its log line in one statement: the conditional UPDATE ... RETURNING, the INSERT of the
    log line fed by what it returned (nothing when no row moved), and the moved row read back from it."""
    move = MOVES[name]
    values = values or {}
    statement = update(_TASKS).where(_TASKS.c.id == task_id, _TASKS.c.status.in_(tuple(move.sources)))
    if owner is not None:
        statement = statement.where(_TASKS.c.user_id == owner)
    if also is not None:
        statement = statement.where(also)
    moved = statement.values(status=move.target, **values).returning(*_TASKS.c).cte("moved")
    line = _log_row(
        task_id,
        LOGGED_AS[name],
        status=move.target,
        attempt=func.coalesce(moved.c.retry_count, 0) + 1,
        message=values.get("error_message") if isinstance(values.get("error_message"), str) else None,
        duration_ms=values.get("processing_time_ms") if isinstance(values.get("processing_time_ms"), int) else None,
    )
    fed = select(*(v if isinstance(v, ColumnElement) else literal(v, _LOGS.c[k].type) for k, v in line.items()))
    logged = insert(_LOGS).from_select(list(line), fed.select_from(moved)).cte("logged")
    read = select(aliased(Task, moved)).add_cte(logged).execution_options(populate_existing=True)
    return (await db.execute(read)).scalar_one_or_none()


async def log_event(
    db: AsyncSession,
    task_id: uuid.UUID,
    event: TaskLogEvent,
    *,
    status: TaskStatus | None = None,
    attempt: int | None = None,
    message: str | None = None,
    duration_ms: int | None = None,
) -> None:
    """One line of the task's log (kept 90 days by the retention purge)."""
    await db.execute(
        insert(_LOGS).values(
            _log_row(task_id, event, status=status, attempt=attempt, message=message, duration_ms=duration_ms)
        )
    )


async def claim(
    db: AsyncSession, task_id: uuid.UUID, worker_id: str, *, running_below: int | None = None
) -> Task | None:
    """pending -> running, once: of several workers holding a job for the task, one wins. `started_at`
    stays the time the task was asked for; the run's start is `run_started_at`. With `running_below`, only
    while its owner runs fewer tasks than that, counted by the claim's own statement (the caller holds the
    lock that makes the owner's claims take turns, so the count is current)."""
    cap = None
    if running_below is not None:
        other = _TASKS.alias("other")
        running = (
            select(func.count())
            .select_from(other)
            .where(other.c.user_id == _TASKS.c.user_id, other.c.status == TaskStatus.RUNNING.value)
            .scalar_subquery()
        )
        cap = running < running_below
    # Who runs it (the sweep recovers tasks whose worker stopped answering): the stored metadata with `worker`.
    claimed_by = func.coalesce(_TASKS.c.metadata, cast(literal("{}"), JSONB)).op("||")(
        func.jsonb_build_object("worker", worker_id)
    )
    return await _apply(db, TaskMove.CLAIM, task_id, {"run_started_at": func.now(), "metadata": claimed_by}, also=cap)


async def finish(
    db: AsyncSession,
    task_id: uuid.UUID,
    *,
    succeeded: bool,
    processing_time_ms: int,
    output: Any = None,
    error: str | None = None,
) -> Task | None:
    """running -> completed or failed with the outcome; None when it left `running` meanwhile (a cancel wins)."""
    values: dict[str, Any] = {
        "completed_at": func.now(),
        "error_message": error,
        "processing_time_ms": processing_time_ms,
    }
    if output is not None:
        values["output_payload"] = output
    return await _apply(db, TaskMove.COMPLETE if succeeded else TaskMove.FAIL, task_id, values)


async def fail_before_start(db: AsyncSession, task_id: uuid.UUID, error: str) -> Task | None:
    """pending -> failed with the reason (a task that cannot start)."""
    return await _apply(db, TaskMove.FAIL_BEFORE_START, task_id, {"error_message": error, "completed_at": func.now()})


async def cancel(db: AsyncSession, task_id: uuid.UUID, *, owner: uuid.UUID) -> Task | None:
    return await _apply(db, TaskMove.CANCEL, task_id, {"completed_at": func.now()}, owner=owner)


async def retry(db: AsyncSession, task_id: uuid.UUID, *, owner: uuid.UUID) -> Task | None:
    """failed -> pending, its last outcome cleared."""
    return await _apply(
        db,
        TaskMove.RETRY,
        task_id,
        {"error_message": None, "completed_at": None, "processing_time_ms": None, "output_payload": null()},
        owner=owner,
    )


async def recover(db: AsyncSession, task_id: uuid.UUID) -> Task | None:
    """running -> pending for another attempt: its worker stopped answering."""
    return await _apply(db, TaskMove.RECOVER, task_id, {"retry_count": Task.retry_count + 1})


async def abandon(db: AsyncSession, task_id: uuid.UUID, error: str) -> Task | None:
    """running -> failed without an outcome (its worker died and it has no retries left)."""
    return await _apply(db, TaskMove.FAIL, task_id, {"completed_at": func.now(), "error_message": error})


async def count_retry(db: AsyncSession, task_id: uuid.UUID, *, error: str, duration_ms: int) -> None:
    """One more attempt of a running task (the worker's retry after a failed call), and the failed
    attempt's error and duration in the log."""
    counted = (
        await db.execute(
            update(Task)
            .where(col(Task.id) == task_id, col(Task.status) == TaskStatus.RUNNING)
            .values(retry_count=Task.retry_count + 1)
            .returning(col(Task.retry_count))
        )
    ).first()
    if counted is not None:
        await log_event(
            db,
            task_id,
            TaskLogEvent.ATTEMPT_FAILED,
            status=TaskStatus.RUNNING,
            attempt=counted.retry_count,
            message=error,
            duration_ms=duration_ms,
        )


def queue_terms(task: Task) -> tuple[TaskPriority, datetime | None]:
    """The queue a task's job goes to and the time it is for. Metadata that does not read otherwise still
    gives its priority, and the job is for now: the worker then fails the task with the reason. Without a
    readable priority no queue can take it (ValueError)."""
    try:
        meta = TaskMeta.parse(task.meta)
    except ValueError:
        return TaskMeta.parse_only(task.meta, "priority").priority, None
    return meta.priority, meta.scheduled_for


def job_timeout(config: AgentConfig) -> int:
    """saq kills a job past this: every attempt's timeout plus the backoff between them, with slack."""
    per_attempt = config.timeout_seconds + 2
    return int(config.attempts * per_attempt + sum(min(0.2 * 2**n, 5) for n in range(config.attempts)) + 10)


async def enqueue(
    queues: TaskQueues,
    task: Task,
    config: AgentConfig,
    *,
    delay: float = 0.0,
    not_before: datetime | None = None,
) -> bool:
    """Queue one attempt to move the task on: after `delay` or at `not_before` when the caller names a time
    (the worker polling a dependency, waiting out a rate limit), else at the task's `scheduledFor`. False
    (logged) when Redis is away: the sweep queues it later. Raises ValueError on a stored priority the
    queue cannot take."""
    priority, scheduled_for = queue_terms(task)
    if not delay and not_before is None:
        not_before = scheduled_for
    queued = await queues.enqueue_task(
        task.id, priority, timeout_seconds=job_timeout(config), not_before=not_before, delay=delay
    )
    if not queued:
        log.warning("task %s could not be queued (Redis unreachable); the worker's sweep will", task.id)
    return queued
