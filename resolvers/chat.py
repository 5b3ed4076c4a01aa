"""Chat use cases: sessions and the messages in them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loaders.visibility import visible_chat_sessions, visible_documents, visible_messages
from models import ChatSession, Document, Message
from models.base import database_now
from models.chat import CONTENT_MAX, RESTORE_WINDOW_DAYS, TITLE_MAX, MessageRole, SessionStatus
from resolvers.chat_events import MessageEventKind, publish_message
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.unit_of_work import UnitOfWork
from resolvers.validation import check_length, collect

MAX_ATTACHMENTS = 10
CHAT_SESSION_NOT_FOUND = Problem("input.sessionId", ErrorCode.NOT_FOUND, "No such chat session.")
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


async def _saved(db: AsyncSession, row: Saved) -> Saved:
    """Write the changes and read back what the database computed (now(), defaults)."""
    await db.flush()
    await db.refresh(row)
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


Found = TypeVar("Found")


async def _found(
    lookup: Awaitable[Found], problems: list[Problem], refusal: Callable[[Found], Problem | None] = lambda _: None
) -> Found:
    """The row `lookup` finds, if neither it (not found), `refusal` (its state) nor the input's `problems`
    refuse; otherwise all of them together, the row's first."""
    try:
        found = await lookup
    except Rejected as rejected:
        raise Rejected(rejected.problems + problems) from None
    first = refusal(found)
    if first is not None or problems:
        raise Rejected([first, *problems] if first is not None else problems)
    return found


async def _own_chat_session(
    db: AsyncSession, user_id: uuid.UUID, chat_session_id: uuid.UUID | None, *, deleted: bool = False
) -> ChatSession:
    if chat_session_id is None:
        raise Rejected([CHAT_SESSION_NOT_FOUND])
    query = visible_chat_sessions(user_id, ChatSession, deleted=deleted).where(col(ChatSession.id) == chat_session_id)
    found: ChatSession | None = (await db.execute(query.with_for_update())).scalar_one_or_none()
    if found is None:
        raise Rejected([CHAT_SESSION_NOT_FOUND])
    return found


def _refuse_archived_send(chat_session: ChatSession) -> Problem | None:
    if chat_session.status != SessionStatus.ACTIVE:
        return Problem("input.sessionId", ErrorCode.INVALID_STATE, "Archived sessions accept no new messages.")
    return None


ARCHIVED_MESSAGE = Problem("input.messageId", ErrorCode.INVALID_STATE, "Messages of archived sessions cannot change.")


def _refuse_edit(found: tuple[Message, ChatSession]) -> Problem | None:
    message, chat_session = found
    if message.role != MessageRole.USER:
        return Problem("input.messageId", ErrorCode.FORBIDDEN, "Only your own messages can be edited.")
    return ARCHIVED_MESSAGE if chat_session.status != SessionStatus.ACTIVE else None


async def create_chat_session(
    db: AsyncSession, user_id: uuid.UUID, title: str | None, context: dict[str, Any]
) -> ChatSession:
    title = title.strip() if title is not None else None
    problems = collect(_check_title(title), _check_context(context))
    if problems:
        raise Rejected(problems)
    created = ChatSession(user_id=user_id, title=title or None, context_data=context)
    db.add(created)
    return await _saved(db, created)


async def update_chat_session(
    db: AsyncSession,
    user_id: uuid.UUID,
    chat_session_id: uuid.UUID | None,
    *,
    title: str | None,
    context: dict[str, Any] | None,
) -> ChatSession:
    title = title.strip() if title is not None else None
    problems = collect(_check_title(title), _check_context(context))
    chat_session = await _found(_own_chat_session(db, user_id, chat_session_id), problems)
    if title is not None:
        chat_session.title = title or None
    if context is not None:
        chat_session.context_data = context
    chat_session.updated_at = database_now()
    return await _saved(db, chat_session)


async def _set_status(
    db: AsyncSession,
    user_id: uuid.UUID,
    chat_session_id: uuid.UUID | None,
    *,
    moves: tuple[SessionStatus, SessionStatus],
    refusal: str,
) -> ChatSession:
    chat_session = await _own_chat_session(db, user_id, chat_session_id)
    source, target = moves
    if chat_session.status != source:
        raise Rejected([Problem("input.sessionId", ErrorCode.INVALID_STATE, refusal)])
    chat_session.status = target
    chat_session.updated_at = database_now()
    return await _saved(db, chat_session)


async def archive_chat_session(db: AsyncSession, user_id: uuid.UUID, chat_session_id: uuid.UUID | None) -> ChatSession:
    moves = (SessionStatus.ACTIVE, SessionStatus.ARCHIVED)
    return await _set_status(db, user_id, chat_session_id, moves=moves, refusal="The session is already archived.")


async def unarchive_chat_session(
    db: AsyncSession, user_id: uuid.UUID, chat_session_id: uuid.UUID | None
) -> ChatSession:
    moves = (SessionStatus.ARCHIVED, SessionStatus.ACTIVE)
    return await _set_status(db, user_id, chat_session_id, moves=moves, refusal="The session is not archived.")


async def delete_chat_session(db: AsyncSession, user_id: uuid.UUID, chat_session_id: uuid.UUID | None) -> ChatSession:
    """Soft delete: restorable for 30 days, then the retention purge removes it."""
    chat_session = await _own_chat_session(db, user_id, chat_session_id)
    chat_session.status = SessionStatus.DELETED
    chat_session.deleted_at = database_now()
    chat_session.updated_at = database_now()
    return await _saved(db, chat_session)


async def restore_chat_session(db: AsyncSession, user_id: uuid.UUID, chat_session_id: uuid.UUID | None) -> ChatSession:
    try:
        chat_session = await _own_chat_session(db, user_id, chat_session_id, deleted=True)
    except Rejected:
        # One the user has and that is not deleted: the state refuses it (its existence is theirs to know).
        live = await _own_chat_session(db, user_id, chat_session_id)
        raise Rejected(
            [Problem("input.sessionId", ErrorCode.INVALID_STATE, f"The session is {live.status}, not deleted.")]
        ) from None
    assert chat_session.deleted_at is not None
    if datetime.now(UTC) - chat_session.deleted_at > timedelta(days=RESTORE_WINDOW_DAYS):
        raise Rejected(
            [
                Problem(
                    "input.sessionId",
                    ErrorCode.INVALID_STATE,
                    f"Sessions can be restored for {RESTORE_WINDOW_DAYS} days after deletion.",
                )
            ]
        )
    chat_session.status = SessionStatus.ACTIVE
    chat_session.deleted_at = None
    chat_session.updated_at = database_now()
    return await _saved(db, chat_session)


@dataclass(frozen=True)
class Attachment:
    document_id: uuid.UUID | None  # None: the ID named no document of the sender's


async def _attachments(
    db: AsyncSession, user_id: uuid.UUID, attachments: list[Attachment]
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
            await db.execute(
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
    uow: UnitOfWork, user_id: uuid.UUID, chat_session_id: uuid.UUID | None, content: str, attachments: list[Attachment]
) -> Message:
    """Append a user message. Its `seq` comes from the same UPDATE that counts it, whose row lock
    serialises concurrent sends to one session: numbers are gap-free and follow commit order."""
    db = uow.db
    problems = collect(_check_content(content))
    stored, attachment_problems = await _attachments(db, user_id, attachments)
    problems += attachment_problems
    chat_session = await _found(_own_chat_session(db, user_id, chat_session_id), problems, _refuse_archived_send)
    message = await append_message(
        db, chat_session.id, MessageRole.USER, content, {"attachments": stored} if stored else {}
    )
    assert message is not None  # the session's row is locked and live
    publish_message(uow, MessageEventKind.ADDED, message)
    return message


async def append_message(
    db: AsyncSession,
    chat_session_id: uuid.UUID,
    role: MessageRole,
    content: str,
    meta: dict[str, Any],
    *,
    token_count: int | None = None,
    processing_time_ms: int | None = None,
) -> Message | None:
    """Number and insert a message at the end of a session that is not deleted; None when it is (or is
    gone). The UPDATE that counts the message takes its `seq` and locks the session's row: concurrent
    appends to one session are serialised, numbers are gap-free and follow commit order."""
    # The time of this statement, sent while the row lock is held (not NOW(), the transaction's start):
    # lastActivityAt never moves backwards and message times follow their numbers.
    counted = (
        await db.execute(
            update(ChatSession)
            .where(col(ChatSession.id) == chat_session_id, col(ChatSession.deleted_at).is_(None))
            .values(
                message_count=ChatSession.message_count + 1,
                last_activity_at=func.statement_timestamp(),
                updated_at=func.statement_timestamp(),
            )
            .returning(col(ChatSession.message_count), col(ChatSession.last_activity_at))
        )
    ).first()
    if counted is None:
        return None
    seq, at = counted
    message = Message(
        session_id=chat_session_id,
        role=role,
        content=content,
        seq=seq,
        meta=meta,
        timestamp=at,
        token_count=token_count,
        processing_time_ms=processing_time_ms,
    )
    db.add(message)
    return await _saved(db, message)


async def own_message(
    db: AsyncSession, user_id: uuid.UUID, message_id: uuid.UUID | None
) -> tuple[Message, ChatSession]:
    if message_id is None:
        raise Rejected([MESSAGE_NOT_FOUND])
    found = (
        await db.execute(
            visible_messages(user_id, Message, ChatSession)
            .where(col(Message.id) == message_id)
            .with_for_update(of=Message)
        )
    ).first()
    if found is None:
        raise Rejected([MESSAGE_NOT_FOUND])
    return found[0], found[1]


async def edit_message(uow: UnitOfWork, user_id: uuid.UUID, message_id: uuid.UUID | None, content: str) -> Message:
    db = uow.db
    problems = collect(_check_content(content))
    message, _ = await _found(own_message(db, user_id, message_id), problems, _refuse_edit)
    message.content = content
    message.edited_at = database_now()
    await _saved(db, message)
    publish_message(uow, MessageEventKind.EDITED, message)
    return message


async def delete_message(uow: UnitOfWork, user_id: uuid.UUID, message_id: uuid.UUID | None) -> Message:
    """Soft delete; the message keeps its number, so the sequence stays gap-free."""
    db = uow.db
    message, chat_session = await own_message(db, user_id, message_id)
    if chat_session.status != SessionStatus.ACTIVE:
        raise Rejected([ARCHIVED_MESSAGE])
    message.deleted_at = database_now()
    await _saved(db, message)
    publish_message(uow, MessageEventKind.DELETED, message)
    return message


async def post_system_message(
    uow: UnitOfWork, user_id: uuid.UUID, chat_session_id: uuid.UUID, content: str, meta: dict[str, Any]
) -> Message | None:
    """A SYSTEM message from the gateway itself (a task's outcome) in the user's session, numbered like any
    other; None when the session is gone or archived (it takes no new messages)."""
    found = await uow.db.execute(
        visible_chat_sessions(user_id, ChatSession).where(col(ChatSession.id) == chat_session_id).with_for_update()
    )
    chat_session: ChatSession | None = found.scalar_one_or_none()
    if chat_session is None or chat_session.status != SessionStatus.ACTIVE:
        return None
    message = await append_message(uow.db, chat_session.id, MessageRole.SYSTEM, content[:CONTENT_MAX], meta)
    if message is not None:
        publish_message(uow, MessageEventKind.ADDED, message)
    return message
