"""Chat use cases: sessions and the messages in them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loaders.visibility import visible_chat_sessions, visible_documents, visible_messages
from models import ChatSession, Document, Message
from models.chat import CONTENT_MAX, RESTORE_WINDOW_DAYS, TITLE_MAX, MessageRole, SessionStatus
from resolvers.chat_events import MessageEventKind, publish_message
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.unit_of_work import UnitOfWork
from resolvers.validation import check_length, collect

MAX_ATTACHMENTS = 10
SESSION_NOT_FOUND = Problem("input.sessionId", ErrorCode.NOT_FOUND, "No such chat session.")
MESSAGE_NOT_FOUND = Problem("input.messageId", ErrorCode.NOT_FOUND, "No such message.")


def _holds_nul(value: Any) -> bool:
    """PostgreSQL text and jsonb cannot hold U+0000: refused as input instead of failing in the driver."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(member) for key, member in value.items())
    if isinstance(value, list):
        return any(_holds_nul(member) for member in value)
    return False


Saved = TypeVar("Saved", ChatSession, Message)


async def _saved(session: AsyncSession, row: Saved) -> Saved:
    """Write the changes and read back what the database computed (now(), defaults)."""
    await session.flush()
    await session.refresh(row)
    return row


def _check_title(title: str | None) -> Problem | None:
    if _holds_nul(title):
        return Problem("input.title", ErrorCode.INVALID, "The title cannot contain NUL characters.")
    return check_length("input.title", title, maximum=TITLE_MAX, label="The title")


def _check_context(context: dict[str, Any] | None) -> Problem | None:
    if _holds_nul(context):
        return Problem("input.contextData", ErrorCode.INVALID, "Context data cannot contain NUL characters.")
    return None


def _check_content(content: str) -> Problem | None:
    if not content.strip():
        return Problem("input.content", ErrorCode.REQUIRED, "A message needs some text.")
    if _holds_nul(content):
        return Problem("input.content", ErrorCode.INVALID, "A message cannot contain NUL characters.")
    return check_length("input.content", content, maximum=CONTENT_MAX, label="A message")


async def _own_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID | None, *, deleted: bool = False
) -> ChatSession:
    if session_id is None:
        raise Rejected([SESSION_NOT_FOUND])
    query = visible_chat_sessions(user_id, ChatSession, deleted=deleted).where(col(ChatSession.id) == session_id)
    found: ChatSession | None = (await session.execute(query.with_for_update())).scalar_one_or_none()
    if found is None:
        raise Rejected([SESSION_NOT_FOUND])
    return found


async def create_session(
    session: AsyncSession, user_id: uuid.UUID, title: str | None, context: dict[str, Any]
) -> ChatSession:
    title = title.strip() if title is not None else None
    problems = collect(_check_title(title), _check_context(context))
    if problems:
        raise Rejected(problems)
    created = ChatSession(user_id=user_id, title=title or None, context_data=context)
    session.add(created)
    await session.flush()
    await session.refresh(created)
    return created


async def update_session(
    session: AsyncSession,
    user_id: uuid.UUID,
    session_id: uuid.UUID | None,
    *,
    title: str | None,
    context: dict[str, Any] | None,
) -> ChatSession:
    title = title.strip() if title is not None else None
    problems = collect(_check_title(title), _check_context(context))
    try:
        chat = await _own_session(session, user_id, session_id)
    except Rejected as rejected:
        problems = rejected.problems + problems
    if problems:
        raise Rejected(problems)
    if title is not None:
        chat.title = title or None
    if context is not None:
        chat.context_data = context
    chat.updated_at = func.now()
    return await _saved(session, chat)


async def archive_session(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID | None) -> ChatSession:
    chat = await _own_session(session, user_id, session_id)
    if chat.status != SessionStatus.ACTIVE:
        raise Rejected([Problem("input.sessionId", ErrorCode.INVALID_STATE, "The session is already archived.")])
    chat.status = SessionStatus.ARCHIVED
    chat.updated_at = func.now()
    return await _saved(session, chat)


async def unarchive_session(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID | None) -> ChatSession:
    chat = await _own_session(session, user_id, session_id)
    if chat.status != SessionStatus.ARCHIVED:
        raise Rejected([Problem("input.sessionId", ErrorCode.INVALID_STATE, "The session is not archived.")])
    chat.status = SessionStatus.ACTIVE
    chat.updated_at = func.now()
    return await _saved(session, chat)


async def delete_session(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID | None) -> ChatSession:
    """Soft delete: restorable for 30 days, then the retention purge removes it."""
    chat = await _own_session(session, user_id, session_id)
    chat.status = SessionStatus.DELETED
    chat.deleted_at = func.now()
    chat.updated_at = func.now()
    return await _saved(session, chat)


async def restore_session(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID | None) -> ChatSession:
    try:
        chat = await _own_session(session, user_id, session_id, deleted=True)
    except Rejected:
        # One the user has and that is not deleted: the state refuses it (its existence is theirs to know).
        live = await _own_session(session, user_id, session_id)
        raise Rejected(
            [Problem("input.sessionId", ErrorCode.INVALID_STATE, f"The session is {live.status}, not deleted.")]
        ) from None
    assert chat.deleted_at is not None
    if datetime.now(UTC) - chat.deleted_at > timedelta(days=RESTORE_WINDOW_DAYS):
        raise Rejected(
            [
                Problem(
                    "input.sessionId",
                    ErrorCode.INVALID_STATE,
                    f"Sessions can be restored for {RESTORE_WINDOW_DAYS} days after deletion.",
                )
            ]
        )
    chat.status = SessionStatus.ACTIVE
    chat.deleted_at = None
    chat.updated_at = func.now()
    return await _saved(session, chat)


@dataclass(frozen=True)
class Attachment:
    document_id: uuid.UUID | None  # None: the ID named no document of the sender's


async def _attachments(
    session: AsyncSession, user_id: uuid.UUID, attachments: list[Attachment]
) -> tuple[list[dict[str, Any]], list[Problem]]:
    problems: list[Problem] = []
    if len(attachments) > MAX_ATTACHMENTS:
        return [], [
            Problem(
                "input.attachments", ErrorCode.TOO_MANY, f"A message can carry at most {MAX_ATTACHMENTS} attachments."
            )
        ]
    wanted = [a.document_id for a in attachments if a.document_id is not None]
    rows = (
        (
            await session.execute(
                visible_documents(
                    user_id,
                    col(Document.id),
                    col(Document.original_filename),
                    col(Document.mime_type),
                    col(Document.file_size),
                ).where(col(Document.id).in_(wanted))
            )
        ).all()
        if wanted
        else []
    )
    found = {row.id: row for row in rows}
    stored: list[dict[str, Any]] = []
    for index, attachment in enumerate(attachments):
        row = found.get(attachment.document_id) if attachment.document_id else None
        if row is None:
            problems.append(Problem(f"input.attachments.{index}", ErrorCode.NOT_FOUND, "No such document."))
            continue
        stored.append(
            {
                "type": row.mime_type,
                "name": row.original_filename,
                "size": row.file_size,
                "url": f"urn:assistant-gateway:document:{row.id}",
                "documentId": str(row.id),
            }
        )
    return stored, problems


async def send_message(
    uow: UnitOfWork, user_id: uuid.UUID, session_id: uuid.UUID | None, content: str, attachments: list[Attachment]
) -> Message:
    """Append a user message. Its `seq` comes from the same UPDATE that counts it, whose row lock
    serialises concurrent sends to one session: numbers are gap-free and follow commit order."""
    session = uow.db
    problems = collect(_check_content(content))
    stored, attachment_problems = await _attachments(session, user_id, attachments)
    problems += attachment_problems
    try:
        chat = await _own_session(session, user_id, session_id)
        if chat.status != SessionStatus.ACTIVE:
            problems.insert(
                0, Problem("input.sessionId", ErrorCode.INVALID_STATE, "Archived sessions accept no new messages.")
            )
    except Rejected as rejected:
        problems = rejected.problems + problems
    if problems:
        raise Rejected(problems)
    return await _append(uow, chat.id, MessageRole.USER, content, {"attachments": stored} if stored else {})


async def _append(
    uow: UnitOfWork, chat_id: uuid.UUID, role: MessageRole, content: str, meta: dict[str, Any]
) -> Message:
    # The time of this statement, sent while the row lock is held (not NOW(), the transaction's start):
    # lastActivityAt never moves backwards and message times follow their numbers.
    seq, at = (
        await uow.db.execute(
            update(ChatSession)
            .where(col(ChatSession.id) == chat_id)
            .values(
                message_count=ChatSession.message_count + 1,
                last_activity_at=func.statement_timestamp(),
                updated_at=func.statement_timestamp(),
            )
            .returning(col(ChatSession.message_count), col(ChatSession.last_activity_at))
        )
    ).one()
    message = Message(session_id=chat_id, role=role, content=content[:CONTENT_MAX], seq=seq, meta=meta, timestamp=at)
    uow.db.add(message)
    await _saved(uow.db, message)
    publish_message(uow, MessageEventKind.ADDED, message)
    return message


async def post_system_message(
    uow: UnitOfWork, user_id: uuid.UUID, session_id: uuid.UUID, content: str, meta: dict[str, Any]
) -> Message | None:
    """A SYSTEM message from the gateway itself (a task's outcome) in the user's session, numbered like any
    other; None when the session is gone or archived (it takes no new messages)."""
    found = await uow.db.execute(
        visible_chat_sessions(user_id, ChatSession).where(col(ChatSession.id) == session_id).with_for_update()
    )
    chat: ChatSession | None = found.scalar_one_or_none()
    if chat is None or chat.status != SessionStatus.ACTIVE:
        return None
    return await _append(uow, chat.id, MessageRole.SYSTEM, content, meta)


async def _own_message(
    session: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID | None
) -> tuple[Message, ChatSession]:
    if message_id is None:
        raise Rejected([MESSAGE_NOT_FOUND])
    found = (
        await session.execute(
            visible_messages(user_id, Message, ChatSession)
            .where(col(Message.id) == message_id)
            .with_for_update(of=Message)
        )
    ).first()
    if found is None:
        raise Rejected([MESSAGE_NOT_FOUND])
    return found[0], found[1]


async def edit_message(uow: UnitOfWork, user_id: uuid.UUID, message_id: uuid.UUID | None, content: str) -> Message:
    session = uow.db
    problems = collect(_check_content(content))
    try:
        message, chat = await _own_message(session, user_id, message_id)
        if message.role != MessageRole.USER:
            problems.insert(0, Problem("input.messageId", ErrorCode.FORBIDDEN, "Only your own messages can be edited."))
        elif chat.status != SessionStatus.ACTIVE:
            problems.insert(
                0, Problem("input.messageId", ErrorCode.INVALID_STATE, "Messages of archived sessions cannot change.")
            )
    except Rejected as rejected:
        problems = rejected.problems + problems
    if problems:
        raise Rejected(problems)
    message.content = content
    message.edited_at = func.now()
    await _saved(session, message)
    publish_message(uow, MessageEventKind.EDITED, message)
    return message


async def delete_message(uow: UnitOfWork, user_id: uuid.UUID, message_id: uuid.UUID | None) -> Message:
    """Soft delete; the message keeps its number, so the sequence stays gap-free."""
    session = uow.db
    message, chat = await _own_message(session, user_id, message_id)
    if chat.status != SessionStatus.ACTIVE:
        raise Rejected(
            [Problem("input.messageId", ErrorCode.INVALID_STATE, "Messages of archived sessions cannot change.")]
        )
    message.deleted_at = func.now()
    await _saved(session, message)
    publish_message(uow, MessageEventKind.DELETED, message)
    return message
