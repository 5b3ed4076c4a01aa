"""Running a task: wait for dependencies and the schedule, respect the agent's rate limit, call the tool
with its timeout, retry with backoff, check the output, record the outcome, report every change."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Text, bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from jobs.context import JobContext, WorkerDeps, deps_of
from loaders.visibility import live_agents
from models import MCPAgent, Task
from models.agents import AgentConfig
from models.json_document import unreadable_keys
from models.tasks import TaskMeta, TaskStatus
from resolvers import task_lifecycle
from resolvers.agent_links import CredentialUnavailable, link_for
from resolvers.integration_vault import TokenUnavailable, Vault
from resolvers.task_events import TASK_EVENTS
from resolvers.task_notices import asks_notice, notify_if_asked
from resolvers.tasks import schema_problems
from resolvers.unit_of_work import UnitOfWork, run_unit_of_work
from services import keys, mcp, ratelimit

log = logging.getLogger("gateway.jobs.tasks")
DEPENDENCY_POLL_SECONDS = 1.0
CANCEL_POLL_SECONDS = 0.5
SCHEDULE_SLACK_SECONDS = 1.5
# A job for a user already running GATEWAY_TASKS_PER_USER tasks comes back this much later (plus up to
# a second of jitter, so deferred jobs do not wake in step): a slot goes to someone else meanwhile.
USER_BUSY_DELAY_SECONDS = 1.0
USER_LOCK_NAMESPACE = 820_001  # pg_advisory_xact_lock(namespace, hashtext(user id)): claims per user in turn
# Statements of every job, built once with parameters (`p_*`): building one costs more than running it.
_CLAIM_LOCK = select(func.pg_advisory_xact_lock(USER_LOCK_NAMESPACE, func.hashtext(bindparam("p_user", type_=Text()))))
_STATUS = select(col(Task.status)).where(col(Task.id) == bindparam("p_task_id"))
_OTHER_TASKS = Task.__table__.alias("other")  # type: ignore[attr-defined]
_AGENT_OF_TASK = live_agents(MCPAgent).subquery()
# The task, its agent (None when removed) and how many tasks its owner runs, in one statement.
_TASK_TO_START = (
    select(
        Task,
        aliased(MCPAgent, _AGENT_OF_TASK),
        select(func.count())
        .select_from(_OTHER_TASKS)
        .where(_OTHER_TASKS.c.user_id == col(Task.user_id), _OTHER_TASKS.c.status == TaskStatus.RUNNING.value)
        .scalar_subquery(),
    )
    .outerjoin(_AGENT_OF_TASK, _AGENT_OF_TASK.c.id == col(Task.agent_id))
    .where(col(Task.id) == bindparam("p_task_id"))
)


async def _finish(
    deps: WorkerDeps,
    task_id: uuid.UUID,
    *,
    succeeded: bool,
    started: float,
    output: Any = None,
    error: str | None = None,
    alone: bool = False,
) -> None:
    """Record the outcome, unless the task left `running` meanwhile (a cancel wins); tell the owner.
    `alone`: the task asked for no notice, so the move is the only statement (see `apply_move`)."""
    processing_time_ms = int((time.monotonic() - started) * 1000)
    await apply_move(
        deps,
        lambda db: task_lifecycle.finish(
            db, task_id, succeeded=succeeded, output=output, error=error, processing_time_ms=processing_time_ms
        ),
        alone=alone,
    )


async def fail_pending(deps: WorkerDeps, task_id: uuid.UUID, error: str) -> None:
    """pending -> failed with the reason (a task that cannot start); tell the owner."""
    await apply_move(deps, lambda db: task_lifecycle.fail_before_start(db, task_id, error))


async def apply_move(
    deps: WorkerDeps, move: Callable[[AsyncSession], Awaitable[Task | None]], *, alone: bool = False
) -> Task | None:
    """One lifecycle move in a unit of work of its own; once it has committed, the owner hears how the task
    stands (and is notified when the task asked for it). None when the task was not in a state to move.
    With `alone` (the caller knows the task asked for no notice, so the move's one statement is all the
    unit writes) it runs in autocommit: one round trip instead of BEGIN, the statement and COMMIT."""

    async def work(uow: UnitOfWork) -> Task | None:
        task = await move(uow.db)
        if task is not None:
            TASK_EVENTS.publish_after_commit(uow, task)
            await notify_if_asked(uow, task)
        return task

    return await run_unit_of_work(deps.lone_statements if alone else deps.sessionmaker, deps.events, deps.queues, work)


def _unreadable_reason(error: ValueError) -> str:
    if "scheduledFor" in unreadable_keys(error):
        # Stored before runTask checked times (a naive "0001-01-01T00:00:00" was accepted).
        return (
            "The task's scheduled time has no time zone or is not a time; "
            "run it again with a time such as 2026-05-01T09:00:00Z."
        )
    return f"The task's stored metadata does not read ({', '.join(unreadable_keys(error)) or 'not an object'})."


async def _ready(deps: WorkerDeps, task: Task, config: AgentConfig) -> bool:
    """Whether the task may start now; otherwise it is failed or queued again for later."""
    try:
        meta = TaskMeta.parse(task.meta)
    except ValueError as unreadable:
        # Fail it with the reason rather than leave it to be queued again forever.
        await fail_pending(deps, task.id, _unreadable_reason(unreadable))
        return False
    if meta.dependencies:
        async with deps.sessionmaker() as session:
            statuses: dict[uuid.UUID, str] = {
                pk: status
                for pk, status in (
                    await session.execute(
                        select(col(Task.id), col(Task.status)).where(col(Task.id).in_(meta.dependencies))
                    )
                ).all()
            }
        broken = [pk for pk in meta.dependencies if statuses.get(pk) in (TaskStatus.FAILED, TaskStatus.CANCELLED, None)]
        if broken:
            await fail_pending(deps, task.id, f"A task it depends on did not complete ({broken[0]}).")
            return False
        if any(statuses[pk] != TaskStatus.COMPLETED for pk in meta.dependencies):
            await task_lifecycle.enqueue(deps.queues, task, config, delay=DEPENDENCY_POLL_SECONDS)
            return False
    if meta.scheduled_for is not None:
        remaining = meta.scheduled_for.timestamp() - time.time()
        if remaining > SCHEDULE_SLACK_SECONDS:
            await task_lifecycle.enqueue(deps.queues, task, config)  # at its scheduledFor
            return False
        while remaining > 0:
            # saq schedules in whole seconds, so a job may arrive a little early: never start before
            # the requested time. Checked again after each sleep: uvloop's timers have millisecond
            # granularity and may wake up to a millisecond early.
            await asyncio.sleep(remaining)
            remaining = meta.scheduled_for.timestamp() - time.time()
    if config.rate_limit is not None:
        rule = ratelimit.Limit(
            keys.agent_calls_limit(task.agent_id), config.rate_limit.requests, config.rate_limit.window
        )
        try:
            wait = await ratelimit.take(deps.redis, rule, "calls")
        except (RedisError, OSError):
            wait = 1  # cannot count calls: wait rather than overrun the agent
        if wait is not None:
            await task_lifecycle.enqueue(deps.queues, task, config, delay=wait)
            return False
    return True


async def _running_count(deps: WorkerDeps, user_id: uuid.UUID, session: AsyncSession | None = None) -> int:
    query = (
        select(func.count())
        .select_from(Task)
        .where(col(Task.user_id) == user_id, col(Task.status) == TaskStatus.RUNNING)
    )
    if session is not None:
        return int((await session.execute(query)).scalar_one())
    async with deps.sessionmaker() as own:
        return int((await own.execute(query)).scalar_one())


class UserBusy:
    """The task's owner already runs as many tasks as one user may (GATEWAY_TASKS_PER_USER)."""


USER_BUSY = UserBusy()


async def _claim(deps: WorkerDeps, task_id: uuid.UUID, user_id: uuid.UUID) -> Task | UserBusy | None:
    """pending -> running, once: of several workers holding a job for the task, one wins; and only while
    the owner runs fewer than `tasks_per_user` tasks. Claims of one user take turns on an advisory lock
    (held to the end of this short transaction), so two workers cannot both take the last place: the
    claim's statement, which counts the running tasks, starts once the lock is held."""
    async with deps.sessionmaker() as session, session.begin():
        await session.execute(_CLAIM_LOCK, {"p_user": str(user_id)})
        task = await task_lifecycle.claim(session, task_id, deps.worker_id, running_below=deps.tasks_per_user)
        if task is None and await _running_count(deps, user_id, session) >= deps.tasks_per_user:
            return USER_BUSY
    if task is not None:
        await TASK_EVENTS.publish(deps.events, task)
    return task


async def _status(deps: WorkerDeps, task_id: uuid.UUID) -> str | None:
    async with deps.lone_statements() as session:
        status: str | None = (await session.execute(_STATUS, {"p_task_id": task_id})).scalar_one_or_none()
        return status


def _output(outcome: mcp.ToolOutcome) -> Any:
    if outcome.structured is not None:
        return outcome.structured
    try:
        return json.loads(outcome.text)
    except ValueError:
        return {"text": outcome.text}


async def _lent_tokens(deps: WorkerDeps, task: Task) -> dict[str, Any] | None:
    """The `_meta` of the tool call: fresh tokens of the integrations the task may use (never stored).
    Raises TokenUnavailable (a message fit for the task's error) when one cannot give a token."""
    wanted = list(TaskMeta.parse(task.meta).integrations)
    if not wanted:
        return None
    return {"integrations": await Vault.of(deps).lend(task.user_id, wanted)}


def _idempotent(tool: dict[str, Any]) -> bool:
    """Whether the agent says calling the tool twice does no more than once (its hints: read-only or
    idempotent), so a call lost with a broken session may be sent again."""
    hints = tool.get("annotations") or {}
    return hints.get("readOnlyHint") is True or hints.get("idempotentHint") is True


async def _call_unless_cancelled(
    deps: WorkerDeps,
    task: Task,
    link: mcp.AgentLink,
    tool: dict[str, Any],
    meta: dict[str, Any] | None = None,
) -> mcp.ToolOutcome | None:
    """The tool's outcome, over the agent's pooled session; None when the task was cancelled meanwhile
    (the call is then abandoned, so a cancelled task does not hold a worker slot until the agent answers)."""
    call = asyncio.ensure_future(
        deps.agent_sessions.call_tool(
            task.agent_id, link, task.task_type, task.input_payload or {}, meta=meta, idempotent=_idempotent(tool)
        )
    )
    try:
        while True:
            done, _ = await asyncio.wait({call}, timeout=CANCEL_POLL_SECONDS)
            if done:
                return call.result()
            if await _status(deps, task.id) != TaskStatus.RUNNING:
                return None
    finally:
        if not call.done():
            call.cancel()
            with contextlib.suppress(BaseException):
                await call


async def _attempts(deps: WorkerDeps, task: Task, agent: MCPAgent, config: AgentConfig) -> None:
    tool = next((t for t in agent.capabilities or [] if t.get("name") == task.task_type), {})
    started = time.monotonic()
    # Every outcome below is the unit's only write unless the task asked for a notice.
    finish = functools.partial(_finish, deps, task.id, started=started, alone=not asks_notice(task))
    try:
        link = link_for(agent, deps.box, deps.policy)
    except CredentialUnavailable as unavailable:
        await finish(succeeded=False, error=str(unavailable))
        return
    error = "The task did not run."
    attempt_started = started
    for attempt in range(config.attempts):
        if attempt:
            spent_ms = int((time.monotonic() - attempt_started) * 1000)
            async with deps.sessionmaker() as db, db.begin():
                await task_lifecycle.count_retry(db, task.id, error=error, duration_ms=spent_ms)
            await asyncio.sleep(min(0.2 * 2 ** (attempt - 1), 5))
            attempt_started = time.monotonic()
        if await _status(deps, task.id) != TaskStatus.RUNNING:
            return  # cancelled meanwhile
        try:
            # Lent afresh for each attempt: a retry after a refresh gets the new token.
            meta = await _lent_tokens(deps, task)
        except TokenUnavailable as unavailable:
            await finish(succeeded=False, error=str(unavailable))
            return
        try:
            outcome = await _call_unless_cancelled(deps, task, link, tool, meta)
        except mcp.AgentUnreachable as unreachable:
            error = f"The agent did not answer: {unreachable}."
            continue
        if outcome is None:
            return  # cancelled during the call: the worker lets go of it
        if outcome.is_error:
            error = (outcome.text or "The tool reported an error.")[:2000]
            continue
        output = _output(outcome)
        mismatch = schema_problems(tool.get("outputSchema"), output, "output")
        if mismatch:
            await finish(
                succeeded=False,
                output=output,
                error=f"The output did not match the tool's outputSchema: {mismatch[0].message}",
            )
            return
        await finish(succeeded=True, output=output)
        return
    await finish(succeeded=False, error=error)


async def execute_task(ctx: JobContext, *, task_id: str) -> None:
    """saq job: move one task on (module-level: saq keys jobs by the function's qualified name)."""
    job = ctx.get("job")
    await move_task(deps_of(ctx), task_id, job.key if job is not None else None)


async def _start(deps: WorkerDeps, pk: uuid.UUID) -> tuple[Task, MCPAgent, AgentConfig] | None:
    """pending -> running, or queued again for later, or failed with the reason; the claimed task to run."""
    async with deps.lone_statements() as session:
        found = (await session.execute(_TASK_TO_START, {"p_task_id": pk})).first()
    if found is None or found[0].status != TaskStatus.PENDING:
        return None
    task, agent, running_now = found
    if agent is None:
        await fail_pending(deps, pk, "The agent was removed.")
        return None
    try:
        config = AgentConfig.parse(agent.configuration)
        # Checked first as well as at the claim, so a deferred job takes no token of the agent's rate limit.
        busy = running_now >= deps.tasks_per_user
        claimed: Task | UserBusy | None = USER_BUSY if busy else None
        if not busy:
            if not await _ready(deps, task, config):
                return None
            claimed = await _claim(deps, pk, task.user_id)
        if isinstance(claimed, UserBusy):
            # Not a retry: the task has not started. It comes back shortly, its slot goes to others.
            await task_lifecycle.enqueue(deps.queues, task, config, delay=USER_BUSY_DELAY_SECONDS + random.random())
            return None
    except (SQLAlchemyError, RedisError, OSError):
        raise  # passing trouble: the sweep queues the task again, a bounded number of times
    except Exception:
        # A task that cannot even start (bad stored data) fails with a reason instead of coming back
        # through the sweep forever.
        log.exception("task %s could not start", pk)
        await fail_pending(deps, pk, "The task could not be started by the gateway's worker.")
        return None
    return None if claimed is None else (claimed, agent, config)


async def move_task(deps: WorkerDeps, task_id: str, job_key: str | None = None) -> None:
    """Move one task on, in this process (the job's work; the assistant runs read-only tools through it)."""
    pk = uuid.UUID(task_id)
    try:
        claimed = await _start(deps, pk)
    finally:
        # After the claim has committed (or the task was queued again, failed, or found moved on): the
        # sweep re-reads the task once the mark is gone, so it never queues a task that is being started.
        await deps.queues.forget(pk, job_key)
    if claimed is None:
        return
    task, agent, config = claimed
    try:
        await _attempts(deps, task, agent, config)
    except asyncio.CancelledError:
        # saq's timeout (or shutdown) cancelled the job: the task must not stay `running`.
        with contextlib.suppress(Exception):
            await asyncio.shield(
                _finish(deps, pk, succeeded=False, started=time.monotonic(), error="The task ran out of time.")
            )
        raise
    except Exception:
        # A fault of ours, not the agent's: fail the task rather than leave it `running` while this
        # worker lives on (the sweep only recovers tasks of dead workers).
        log.exception("task %s failed inside the worker", pk)
        await _finish(
            deps, pk, succeeded=False, started=time.monotonic(), error="The task failed inside the gateway's worker."
        )
