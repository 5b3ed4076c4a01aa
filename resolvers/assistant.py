"""Assistant use cases: ask for a reply (after a user's message, or again), confirm a proposed action, and
record how a reply ended. Producing the reply is the worker's (jobs/assistant.py); every move of a reply
goes through resolvers/reply_lifecycle.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import AssistantReply, ChatSession, Message, Task
from models.assistant import ReplyStatus
from models.chat import MessageRole, SessionStatus
from models.tasks import TaskPriority
from resolvers import reply_lifecycle
from resolvers.chat import append_message, own_message
from resolvers.chat_events import MessageEventKind, publish_message
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.tasks import TaskRequest, create_task
from resolvers.unit_of_work import UnitOfWork
from services.resources import Resources

RUN_TASK_ACTION = "run_task"
MAX_REPLIES_PER_JOB = 5  # a job produces at most this many replies of its session, then queues another
ASSISTANT_OFF = Problem("input.messageId", ErrorCode.INVALID_STATE, "The assistant is not configured on this gateway.")


@dataclass(frozen=True)
class ReplyOptions:
    """How the web process asks for replies: whether the assistant is on, and the job's time limit."""

    enabled: bool
    job_timeout_seconds: int


def job_timeout_seconds(reply_timeout: float) -> int:
    """saq's limit for one job: every reply it may produce, with slack (each reply has its own limit)."""
    return int(MAX_REPLIES_PER_JOB * (reply_timeout + 15) + 30)


def reply_options(resources: Resources) -> ReplyOptions:
    return ReplyOptions(
        enabled=resources.assistant is not None,
        job_timeout_seconds=job_timeout_seconds(resources.settings.assistant_reply_timeout),
    )


def request_reply(uow: UnitOfWork, user_id: uuid.UUID, message: Message, options: ReplyOptions) -> None:
    """Queue the assistant's answer to a USER message just written in the same unit of work (its session
    row is locked by the append, so replies queue in message order); a worker is woken after the commit."""
    if not options.enabled or message.role != MessageRole.USER:
        return
    reply_lifecycle.queue(uow.db, session_id=message.session_id, user_id=user_id, reply_to=message.id)
    _wake_after_commit(uow, message.session_id, options)


def _wake_after_commit(uow: UnitOfWork, session_id: uuid.UUID, options: ReplyOptions) -> None:
    uow.after_commit(lambda: uow.queues.enqueue_reply(session_id, timeout_seconds=options.job_timeout_seconds))


async def regenerate_reply(
    uow: UnitOfWork, user_id: uuid.UUID, message_id: uuid.UUID | None, options: ReplyOptions
) -> Message:
    """Answer a user's message again: `messageId` names the user's message or a reply to it (an answer or
    a failure note). Answers the user's message; the new reply arrives like any other."""
    db = uow.db
    message, chat = await own_message(db, user_id, message_id)
    if not options.enabled:
        raise Rejected([ASSISTANT_OFF])
    if message.role != MessageRole.USER:
        target = _uuid((message.meta or {}).get("replyTo"))
        found = await db.get(Message, target) if target else None
        if found is None or found.session_id != chat.id or found.deleted_at is not None:
            raise Rejected([Problem("input.messageId", ErrorCode.INVALID_STATE, "This message answers nothing.")])
        message = found
    if chat.status != SessionStatus.ACTIVE:
        raise Rejected([Problem("input.messageId", ErrorCode.INVALID_STATE, "Archived sessions get no replies.")])
    # The session's row lock orders this reply after any queued before it.
    await db.execute(select(col(ChatSession.id)).where(col(ChatSession.id) == chat.id).with_for_update())
    if await reply_lifecycle.has_open_reply(db, message.id):
        raise Rejected(
            [Problem("input.messageId", ErrorCode.INVALID_STATE, "A reply to this message is already on its way.")]
        )
    reply_lifecycle.queue(db, session_id=chat.id, user_id=user_id, reply_to=message.id)
    await db.flush()
    _wake_after_commit(uow, chat.id, options)
    return message


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def confirm_action(
    uow: UnitOfWork, redis: Redis, user_id: uuid.UUID, message_id: uuid.UUID | None, index: int
) -> tuple[Message, Task]:
    """Run the action the assistant proposed at `index` of the message as a task of its session, and mark
    it completed. Confirming again answers the same task: the message's row lock makes it run once."""
    db = uow.db
    message, chat = await own_message(db, user_id, message_id)
    actions = list((message.meta or {}).get("actions") or [])
    if message.role != MessageRole.ASSISTANT or not 0 <= index < len(actions):
        raise Rejected([Problem("input.actionIndex", ErrorCode.NOT_FOUND, "No such action.")])
    action = dict(actions[index])
    payload = dict(action.get("payload") or {})
    if action.get("type") != RUN_TASK_ACTION:
        raise Rejected([Problem("input.actionIndex", ErrorCode.INVALID_STATE, "This action cannot be run here.")])
    if action.get("completed"):
        done = await db.get(Task, _uuid(payload.get("taskId")))
        if done is None or done.user_id != user_id:
            raise Rejected([Problem("input.actionIndex", ErrorCode.INVALID_STATE, "The action's task is gone.")])
        return message, done
    if chat.status != SessionStatus.ACTIVE:
        raise Rejected([Problem("input.messageId", ErrorCode.INVALID_STATE, "Archived sessions run no actions.")])
    request = TaskRequest(
        agent_id=_uuid(payload.get("agentId")),
        task_type=str(payload.get("taskType") or ""),
        input=payload.get("input") if payload.get("input") is not None else {},
        chat_session_id=chat.id,
        chat_session_given=True,
        priority=TaskPriority.HIGH,
    )
    try:
        task = await create_task(uow, redis, user_id, request)
    except Rejected as rejected:
        # The proposal is the assistant's, not the user's input: its problems point at the action.
        raise Rejected(
            [Problem("input.actionIndex", problem.code, problem.message) for problem in rejected.problems]
        ) from None
    actions[index] = {**action, "completed": True, "payload": {**payload, "taskId": str(task.id)}}
    message.meta = {**(message.meta or {}), "actions": actions}
    await db.flush()
    await db.refresh(message)
    publish_message(uow, MessageEventKind.EDITED, message)
    return message, task


class Superseded(Exception):
    """The reply left `running` while it was produced (the sweep took it back): its outcome is dropped."""


async def _ending(
    uow: UnitOfWork,
    reply: AssistantReply,
    role: MessageRole,
    content: str,
    meta: dict[str, Any],
    **counts: int | None,
) -> Message | None:
    message = await append_message(uow.db, reply.session_id, role, content, meta, **counts)
    if message is None:
        await reply_lifecycle.drop(uow.db, reply.id)
        return None
    publish_message(uow, MessageEventKind.ADDED, message)
    return message


async def record_answer(
    uow: UnitOfWork,
    reply: AssistantReply,
    content: str,
    meta: dict[str, Any],
    *,
    token_count: int,
    processing_time_ms: int,
) -> Message | None:
    """Store the final ASSISTANT message (numbered like any other) and close the reply; None when the
    session went away meanwhile. Raises `Superseded` (rolling back) when the reply is no longer running."""
    message = await _ending(
        uow,
        reply,
        MessageRole.ASSISTANT,
        content,
        {**meta, "replyTo": str(reply.reply_to)},
        token_count=token_count,
        processing_time_ms=processing_time_ms,
    )
    if message is not None and await reply_lifecycle.answer(uow.db, reply.id, message.id) is None:
        raise Superseded
    return message


def failure_text(code: str, detail: str) -> str:
    return f"The assistant could not answer ({code}). {detail} Your message is kept; ask for a new reply to try again."


async def record_failure(
    uow: UnitOfWork, reply: AssistantReply, code: str, detail: str, *, processing_time_ms: int
) -> Message | None:
    """Store a SYSTEM message saying the assistant could not answer (with its code) and close the reply."""
    meta = {"replyTo": str(reply.reply_to), "error": {"code": code, "message": detail}}
    message = await _ending(
        uow, reply, MessageRole.SYSTEM, failure_text(code, detail), meta, processing_time_ms=processing_time_ms
    )
    if message is not None and await reply_lifecycle.fail(uow.db, reply.id, code, message.id) is None:
        raise Superseded
    return message


async def drop_reply(db: AsyncSession, reply_id: uuid.UUID) -> None:
    await reply_lifecycle.drop(db, reply_id)


async def replies_waiting(db: AsyncSession, session_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        col(AssistantReply.session_id) == session_id, col(AssistantReply.status) == ReplyStatus.QUEUED
    )
    return int((await db.execute(query)).scalar_one())
