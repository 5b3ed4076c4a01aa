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

import functools
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Insert, Integer, Select, Text, bindparam, cast, func, insert, literal, null, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from models import Task, TaskLog
from models.agents import AgentConfig
from models.base import column_values, new_id, table_of, utcnow
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
_TASKS = table_of(Task)
_LOGS = table_of(TaskLog)


# What each move writes besides the status. Values come as bound parameters (`p_*`), so a move's statement
# is built once and reused: its construction and cache key would otherwise cost more than its execution.
_ERROR = bindparam("p_error", type_=Text())
_DURATION = bindparam("p_duration_ms", type_=Integer())
_OUTCOME = {
    "completed_at": func.now(),
    "error_message": _ERROR,
    # Kept when not given (a task abandoned by a dead worker has no run time, nor any output).
    "processing_time_ms": func.coalesce(_DURATION, _TASKS.c.processing_time_ms),
    "output_payload": func.coalesce(bindparam("p_output", type_=JSONB(none_as_null=True)), _TASKS.c.output_payload),
}
_WRITES: Mapping[TaskMove, Mapping[str, Any]] = {
    # The stored metadata with `worker`: the sweep recovers tasks whose worker stopped answering.
    TaskMove.CLAIM: {
        "run_started_at": func.now(),
        "metadata": func.coalesce(_TASKS.c.metadata, cast(literal("{}"), JSONB)).op("||")(
            func.jsonb_build_object("worker", bindparam("p_worker", type_=Text()))
        ),
    },
    TaskMove.COMPLETE: _OUTCOME,
    TaskMove.FAIL: _OUTCOME,
    TaskMove.CANCEL: {"completed_at": func.now()},
    TaskMove.RETRY: {"error_message": None, "completed_at": None, "processing_time_ms": None, "output_payload": null()},
    TaskMove.RECOVER: {"retry_count": _TASKS.c.retry_count + 1},
    TaskMove.FAIL_BEFORE_START: {"error_message": _ERROR, "completed_at": func.now()},
}


@functools.cache
def _move_statement(name: TaskMove, *, owned: bool, capped: bool) -> Select[Any]:
    """The move and its log line in one statement: the conditional UPDATE ... RETURNING, the INSERT of the
    log line fed by what it returned (nothing when no row moved), and the moved row read back from it.
    `owned`: only the owner's task (`p_owner`); `capped`: only while its owner runs fewer than `p_cap`
    tasks (the caller holds the lock that makes the owner's claims take turns, so the count is current)."""
    move = MOVES[name]
    statement = update(_TASKS).where(_TASKS.c.id == bindparam("p_task_id"), _TASKS.c.status.in_(sorted(move.sources)))
    if owned:
        statement = statement.where(_TASKS.c.user_id == bindparam("p_owner"))
    if capped:
        other = _TASKS.alias("other")
        running = (
            select(func.count())
            .select_from(other)
            .where(other.c.user_id == _TASKS.c.user_id, other.c.status == TaskStatus.RUNNING.value)
            .scalar_subquery()
        )
        statement = statement.where(running < bindparam("p_cap", type_=Integer()))
    moved = statement.values(status=move.target, **_WRITES[name]).returning(*_TASKS.c).cte("moved")
    line = {
        "id": bindparam("p_log_id", type_=_LOGS.c.id.type),
        "task_id": moved.c.id,
        "event": literal(LOGGED_AS[name].value),
        "status": literal(move.target.value if move.target is not None else None, _LOGS.c.status.type),
        "attempt": func.coalesce(moved.c.retry_count, 0) + 1,
        "message": bindparam("p_log_message", type_=Text()),
        "duration_ms": bindparam("p_log_duration_ms", type_=Integer()),
        "logged_at": bindparam("p_logged_at", type_=_LOGS.c.logged_at.type),
    }
    logged = insert(_LOGS).from_select(list(line), select(*line.values()).select_from(moved)).cte("logged")
    return select(aliased(Task, moved)).add_cte(logged).execution_options(populate_existing=True)


async def _apply(
    db: AsyncSession,
    name: TaskMove,
    task_id: uuid.UUID,
    *,
    owner: uuid.UUID | None = None,
    running_below: int | None = None,
    worker: str | None = None,
    error: str | None = None,
    duration_ms: int | None = None,
    output: Any = None,
) -> Task | None:
    """The moved task, or None when it was not in a state the move starts from."""
    statement = _move_statement(name, owned=owner is not None, capped=running_below is not None)
    params = {
        "p_task_id": task_id,
        "p_owner": owner,
        "p_cap": running_below,
        "p_worker": worker,
        "p_error": error,
        "p_duration_ms": duration_ms,
        "p_output": output,
        "p_log_id": new_id(),
        "p_log_message": error[:LOG_MESSAGE_MAX] if error else None,
        "p_log_duration_ms": duration_ms,
        "p_logged_at": utcnow(),
    }
    moved: Task | None = (await db.execute(statement, params)).scalar_one_or_none()
    return moved


@functools.cache
def _insert_statement() -> Insert:
    """A new task and its `queued` log line in one statement, built once: the INSERT of the task (every
    column a bound parameter `p_<column>`, typed as the column, so a value binds as the ORM would bind it)
    in a CTE, and the log line's INSERT fed by the id it returned."""
    inserted = (
        insert(_TASKS)
        .values({column.name: bindparam(f"p_{column.name}", type_=column.type) for column in _TASKS.c})
        .returning(_TASKS.c.id)
        .cte("inserted")
    )
    line = {
        "id": bindparam("p_log_id", type_=_LOGS.c.id.type),
        "task_id": inserted.c.id,
        "event": literal(TaskLogEvent.QUEUED.value),
        "status": literal(TaskStatus.PENDING.value, _LOGS.c.status.type),
        "attempt": literal(1),
        "logged_at": bindparam("p_logged_at", type_=_LOGS.c.logged_at.type),
    }
    return insert(_LOGS).from_select(list(line), select(*line.values()).select_from(inserted)).add_cte(inserted)


async def insert_queued(db: AsyncSession, task: Task) -> None:
    """Write `task` (built, `pending`, not added to the session) and its `queued` log line, as one statement
    in the caller's transaction: the task as built is the task as stored, with no unit-of-work flush."""
    params = {f"p_{name}": value for name, value in vars(column_values(task)).items()}
    await db.execute(_insert_statement(), {**params, "p_log_id": new_id(), "p_logged_at": utcnow()})


def log_event(
    db: AsyncSession,
    task_id: uuid.UUID,
    event: TaskLogEvent,
    *,
    status: TaskStatus | None = None,
    attempt: int | None = None,
    message: str | None = None,
    duration_ms: int | None = None,
) -> None:
    """One line of the task's log (kept 90 days by the retention purge), written with the caller's next
    flush or its commit (after the task's row: the unit of work orders the inserts by their foreign keys)."""
    db.add(
        TaskLog(
            id=new_id(),
            task_id=task_id,
            event=event,
            status=status,
            attempt=attempt,
            message=message[:LOG_MESSAGE_MAX] if message else None,
            duration_ms=duration_ms,
            logged_at=utcnow(),
        )
    )


async def claim(
    db: AsyncSession, task_id: uuid.UUID, worker_id: str, *, running_below: int | None = None
) -> Task | None:
    """pending -> running, once: of several workers holding a job for the task, one wins. `started_at`
    stays the time the task was asked for; the run's start is `run_started_at`. With `running_below`, only
    while its owner runs fewer tasks than that, counted by the claim's own statement (the caller holds the
    lock that makes the owner's claims take turns, so the count is current)."""
    return await _apply(db, TaskMove.CLAIM, task_id, worker=worker_id, running_below=running_below)


async def finish(
    db: AsyncSession,
    task_id: uuid.UUID,
    *,
    succeeded: bool,
    processing_time_ms: int,
    output: Any = None,
    error: str | None = None,
) -> Task | None:
    """running -> completed or failed with the outcome; None when it left `running` meanwhile (a cancel wins).
    No output (None) keeps the stored one."""
    move = TaskMove.COMPLETE if succeeded else TaskMove.FAIL
    return await _apply(db, move, task_id, error=error, duration_ms=processing_time_ms, output=output)


async def fail_before_start(db: AsyncSession, task_id: uuid.UUID, error: str) -> Task | None:
    """pending -> failed with the reason (a task that cannot start)."""
    return await _apply(db, TaskMove.FAIL_BEFORE_START, task_id, error=error)


async def cancel(db: AsyncSession, task_id: uuid.UUID, *, owner: uuid.UUID) -> Task | None:
    return await _apply(db, TaskMove.CANCEL, task_id, owner=owner)


async def retry(db: AsyncSession, task_id: uuid.UUID, *, owner: uuid.UUID) -> Task | None:
    """failed -> pending, its last outcome cleared."""
    return await _apply(db, TaskMove.RETRY, task_id, owner=owner)


async def recover(db: AsyncSession, task_id: uuid.UUID) -> Task | None:
    """running -> pending for another attempt: its worker stopped answering."""
    return await _apply(db, TaskMove.RECOVER, task_id)


async def abandon(db: AsyncSession, task_id: uuid.UUID, error: str) -> Task | None:
    """running -> failed without an outcome (its worker died and it has no retries left)."""
    return await _apply(db, TaskMove.FAIL, task_id, error=error)


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
        log_event(
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
