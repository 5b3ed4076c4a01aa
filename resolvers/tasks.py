"""Task use cases: create a task that runs a tool of an agent, cancel it, retry it. The worker
(jobs/tasks.py) moves it on; every status move goes through resolvers/task_lifecycle.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from redis.asyncio import Redis
from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from loaders.visibility import live_agents, visible_chat_sessions, visible_tasks
from models import ChatSession, Integration, MCPAgent, Task
from models.agents import AgentStatus
from models.tasks import MAX_DEPENDENCIES, TaskMeta, TaskPriority
from resolvers import task_lifecycle
from resolvers.agents import capabilities_of
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.task_events import TASK_EVENTS
from resolvers.unit_of_work import UnitOfWork

TASK_NOT_FOUND = Problem("input.taskId", ErrorCode.NOT_FOUND, "No such task.")
MAX_INTEGRATIONS = 5
# A schedule is a time with its zone, from a day ago (clock skew, a form left open) to a year ahead.
SCHEDULE_PAST_LIMIT = timedelta(days=1)
SCHEDULE_FUTURE_LIMIT = timedelta(days=365)

# The agent a task is asked for: agents are shared, so a signed-in viewer (the only caller of `create_task`)
# sees every live one (`visible_agents`). Only the columns `runTask` reads, in a statement built once.
_AGENT_ASKED = live_agents(col(MCPAgent.id), col(MCPAgent.status), col(MCPAgent.configuration)).where(
    col(MCPAgent.id) == bindparam("p_agent_id")
)


@dataclass(frozen=True)
class TaskRequest:
    agent_id: uuid.UUID | None
    task_type: str
    input: Any
    chat_session_id: uuid.UUID | None = None
    chat_session_given: bool = False
    priority: TaskPriority = TaskPriority.MEDIUM
    scheduled_for: datetime | None = None
    dependencies: tuple[uuid.UUID | None, ...] = ()
    notify_on_complete: bool = False
    integration_ids: tuple[uuid.UUID | None, ...] = ()


async def integration_problems(
    session: AsyncSession, user_id: uuid.UUID, wanted: tuple[uuid.UUID | None, ...]
) -> list[Problem]:
    """Each integration a task may use must be the user's and not disconnected (its status is checked
    again when the task runs: it may expire meanwhile)."""
    if len(wanted) > MAX_INTEGRATIONS:
        return [Problem("input.integrationIds", ErrorCode.TOO_MANY, f"At most {MAX_INTEGRATIONS} integrations.")]
    keys = [pk for pk in wanted if pk is not None]
    rows = (
        (
            await session.execute(
                select(col(Integration.id), col(Integration.provider)).where(
                    col(Integration.id).in_(keys),
                    col(Integration.user_id) == user_id,
                    col(Integration.deleted_at).is_(None),
                )
            )
        ).all()
        if keys
        else []
    )
    mine = dict(rows)
    problems = [
        Problem(f"input.integrationIds.{index}", ErrorCode.NOT_FOUND, "No such integration.")
        for index, pk in enumerate(wanted)
        if pk not in mine
    ]
    providers = [mine[pk] for pk in wanted if pk in mine]
    if not problems and len(set(providers)) != len(providers):
        problems.append(Problem("input.integrationIds", ErrorCode.INVALID, "Give each integration once."))
    return problems


def schedule_problems(scheduled_for: datetime | None) -> list[Problem]:
    if scheduled_for is None:
        return []
    if scheduled_for.tzinfo is None or scheduled_for.utcoffset() is None:
        return [
            Problem(
                "input.scheduledFor", ErrorCode.INVALID, "Give the time with its time zone, e.g. 2026-05-01T09:00:00Z."
            )
        ]
    now = datetime.now(UTC)
    if scheduled_for < now - SCHEDULE_PAST_LIMIT:
        return [Problem("input.scheduledFor", ErrorCode.INVALID, "The time is more than a day in the past.")]
    if scheduled_for > now + SCHEDULE_FUTURE_LIMIT:
        return [Problem("input.scheduledFor", ErrorCode.INVALID, "The time is more than a year ahead.")]
    return []


def schema_problems(schema: Any, value: Any, field: str) -> list[Problem]:
    """JSON Schema violations as problems pointing into the input (e.g. `input.input.b`)."""
    if not isinstance(schema, dict):
        return []
    try:
        validator = Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    except SchemaError:
        return []
    problems: list[Problem] = []
    reported_missing: dict[tuple[str, ...], int] = {}
    for error in errors[:20]:
        path = [field, *(str(part) for part in error.absolute_path)]
        if error.validator == "required" and isinstance(error.instance, dict):
            # A missing property points at where it belongs. jsonschema reports one error per missing
            # name, in the order of the `required` list (the sort above is stable).
            missing = [name for name in error.validator_value if name not in error.instance]
            index = reported_missing.get(tuple(path), 0)
            reported_missing[tuple(path)] = index + 1
            if index < len(missing):
                path.append(str(missing[index]))
        problems.append(Problem(".".join(path), ErrorCode.SCHEMA_MISMATCH, error.message))
    return problems


async def create_task(uow: UnitOfWork, redis: Redis, user_id: uuid.UUID, request: TaskRequest) -> Task:
    """Insert the task, `pending`; once committed, queue it and tell the owner's subscribers."""
    db = uow.db
    problems: list[Problem] = []
    agent = (await db.execute(_AGENT_ASKED, {"p_agent_id": request.agent_id})).first() if request.agent_id else None
    if agent is None:
        problems.append(Problem("input.agentId", ErrorCode.NOT_FOUND, "No such agent."))
    elif agent.status != AgentStatus.ACTIVE:
        problems.append(Problem("input.agentId", ErrorCode.INVALID_STATE, "The agent is not active."))
    else:
        tools = await capabilities_of(redis, db, agent.id) or []
        tool = next((t for t in tools if t.get("name") == request.task_type), None)
        if tool is None:
            problems.append(
                Problem("input.taskType", ErrorCode.UNKNOWN_TOOL, f"The agent has no tool named {request.task_type!r}.")
            )
        else:
            problems += schema_problems(tool.get("inputSchema"), request.input, "input.input")
    if request.chat_session_given:
        owned = (
            (
                await db.execute(
                    visible_chat_sessions(user_id, col(ChatSession.id)).where(
                        col(ChatSession.id) == request.chat_session_id
                    )
                )
            ).scalar_one_or_none()
            if request.chat_session_id
            else None
        )
        if owned is None:
            problems.append(Problem("input.sessionId", ErrorCode.NOT_FOUND, "No such chat session."))
    problems += schedule_problems(request.scheduled_for)
    problems += await integration_problems(db, user_id, request.integration_ids)
    if len(request.dependencies) > MAX_DEPENDENCIES:
        problems.append(
            Problem("input.dependencies", ErrorCode.TOO_MANY, f"A task can wait for at most {MAX_DEPENDENCIES} others.")
        )
    else:
        wanted = [pk for pk in request.dependencies if pk is not None]
        mine = (
            set((await db.execute(visible_tasks(user_id, col(Task.id)).where(col(Task.id).in_(wanted)))).scalars())
            if wanted
            else set()
        )
        for index, pk in enumerate(request.dependencies):
            if pk not in mine:
                problems.append(Problem(f"input.dependencies.{index}", ErrorCode.NOT_FOUND, "No such task."))
    if problems:
        raise Rejected(problems)
    assert agent is not None
    meta = TaskMeta(
        priority=request.priority,
        user_visible=True,
        notify_on_complete=request.notify_on_complete,
        dependencies=tuple(pk for pk in request.dependencies if pk is not None),
        scheduled_for=request.scheduled_for.astimezone(UTC) if request.scheduled_for is not None else None,
        integrations=tuple(pk for pk in request.integration_ids if pk is not None),
    )
    task = Task(
        user_id=user_id,
        agent_id=agent.id,
        session_id=request.chat_session_id if request.chat_session_given else None,
        task_type=request.task_type,
        input_payload=request.input,
        meta=meta.dump(),
    )
    await task_lifecycle.insert_queued(db, task)
    uow.enqueue_task(task, agent.configuration)
    TASK_EVENTS.publish_after_commit(uow, task)
    return task


async def _moved(db: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID, moved: Task | None, refusal: str) -> Task:
    """The moved task, or the problem: not found (also someone else's) or in a state the move refuses."""
    if moved is not None:
        return moved
    task = (
        await db.execute(
            visible_tasks(user_id, Task).where(col(Task.id) == task_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if task is None:
        raise Rejected([TASK_NOT_FOUND])
    raise Rejected([Problem("input.taskId", ErrorCode.INVALID_STATE, refusal.format(status=task.status))])


async def cancel_task(uow: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID | None) -> Task:
    if task_id is None:
        raise Rejected([TASK_NOT_FOUND])
    moved = await task_lifecycle.cancel(uow.db, task_id, owner=user_id)
    task = await _moved(uow.db, user_id, task_id, moved, "A {status} task cannot be cancelled.")
    TASK_EVENTS.publish_after_commit(uow, task)
    return task


async def retry_task(uow: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID | None) -> Task:
    """failed -> pending; once committed, queued again."""
    if task_id is None:
        raise Rejected([TASK_NOT_FOUND])
    moved = await task_lifecycle.retry(uow.db, task_id, owner=user_id)
    task = await _moved(uow.db, user_id, task_id, moved, "Only failed tasks can be retried; this one is {status}.")
    agent = await uow.db.get(MCPAgent, task.agent_id)
    uow.enqueue_task(task, agent.configuration if agent else None)
    TASK_EVENTS.publish_after_commit(uow, task)
    return task
