"""The document lifecycle: its states and the moves allowed between them.

This is the only module that writes `documents.processing_status`, and the only one that writes the
processing log (`document_processing_logs`, kept 90 days): every move leaves a line, an outcome with its error
and how long the processing took since its claim. Every move is one conditional
UPDATE (`WHERE processing_status IN sources`) answering the moved row, or None when the document was
not in a state the move starts from (another worker, a reprocess or a delete got there first): the
table stays the source of truth under races. The moves run inside the caller's transaction; the event
and the job are for after its commit.

    pending --claim--> processing --complete--> completed
                       processing --fail------> failed
    pending --fail_before_start--> failed        (its file is gone)
    completed | failed --reprocess--> pending    (`reprocessDocument`)
    processing --recover--> pending              (its worker stopped answering)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, cast, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loaders.visibility import documents
from models import Document, DocumentProcessingLog
from models.base import table_of
from models.documents import ProcessingLogEvent, ProcessingStatus
from resolvers.moves import Move, Moves

MAX_ERROR_CHARS = 1000
logs = table_of(DocumentProcessingLog)


class DocumentMove(StrEnum):
    CLAIM = "claim"
    COMPLETE = "complete"
    FAIL = "fail"
    FAIL_BEFORE_START = "fail_before_start"
    REPROCESS = "reprocess"
    RECOVER = "recover"


MOVES: Moves[DocumentMove, ProcessingStatus] = Moves(
    {
        DocumentMove.CLAIM: Move(frozenset({ProcessingStatus.PENDING}), ProcessingStatus.PROCESSING),
        DocumentMove.COMPLETE: Move(frozenset({ProcessingStatus.PROCESSING}), ProcessingStatus.COMPLETED),
        DocumentMove.FAIL: Move(frozenset({ProcessingStatus.PROCESSING}), ProcessingStatus.FAILED),
        DocumentMove.FAIL_BEFORE_START: Move(frozenset({ProcessingStatus.PENDING}), ProcessingStatus.FAILED),
        DocumentMove.REPROCESS: Move(
            frozenset({ProcessingStatus.COMPLETED, ProcessingStatus.FAILED}), ProcessingStatus.PENDING
        ),
        DocumentMove.RECOVER: Move(frozenset({ProcessingStatus.PROCESSING}), ProcessingStatus.PENDING),
    }
)


may_move = MOVES.may_move


async def _apply(
    db: AsyncSession,
    name: DocumentMove,
    document_id: uuid.UUID,
    values: Mapping[str, Any] | None = None,
    *,
    owner: uuid.UUID | None = None,
) -> Document | None:
    move = MOVES[name]
    statement = update(documents).where(
        documents.c.id == document_id, documents.c.processing_status.in_(tuple(move.sources))
    )
    if owner is not None:
        statement = statement.where(documents.c.user_id == owner, documents.c.deleted_at.is_(None))
    moved = (
        await db.execute(statement.values(processing_status=move.target, **(values or {})).returning(documents.c.id))
    ).first()
    if moved is None:
        return None
    await _log(db, document_id, name, move.target, (values or {}).get("processing_error"))
    return await db.get(Document, document_id, populate_existing=True)


LOGGED_AS: Mapping[DocumentMove, ProcessingLogEvent] = {
    DocumentMove.CLAIM: ProcessingLogEvent.CLAIMED,
    DocumentMove.COMPLETE: ProcessingLogEvent.COMPLETED,
    DocumentMove.FAIL: ProcessingLogEvent.FAILED,
    DocumentMove.FAIL_BEFORE_START: ProcessingLogEvent.FAILED,
    DocumentMove.REPROCESS: ProcessingLogEvent.REQUEUED,
    DocumentMove.RECOVER: ProcessingLogEvent.REQUEUED,
}
_TIMED = frozenset({DocumentMove.COMPLETE, DocumentMove.FAIL})


async def _log(
    db: AsyncSession, document_id: uuid.UUID, name: DocumentMove, target: ProcessingStatus | None, error: Any
) -> None:
    duration: Any = None
    if name in _TIMED:
        # Since the claim this outcome ends (its log line): clock time, not the transaction's start.
        duration = (
            select(cast(func.extract("epoch", func.clock_timestamp() - func.max(logs.c.logged_at)) * 1000, Integer))
            .where(logs.c.document_id == document_id, logs.c.event == ProcessingLogEvent.CLAIMED.value)
            .scalar_subquery()
        )
    await db.execute(
        insert(logs).values(
            document_id=document_id,
            event=LOGGED_AS[name].value,
            status=target.value if target is not None else None,
            message=error if isinstance(error, str) else None,
            duration_ms=duration,
        )
    )


async def claim(db: AsyncSession, document_id: uuid.UUID) -> Document | None:
    """pending -> processing, once: of several workers holding a job for the document, one wins."""
    return await _apply(db, DocumentMove.CLAIM, document_id, {"processing_error": None})


async def complete(db: AsyncSession, document_id: uuid.UUID, text: str, data: dict[str, Any]) -> Document | None:
    return await _apply(
        db,
        DocumentMove.COMPLETE,
        document_id,
        {"content_text": text, "extracted_data": data, "processing_error": None, "processed_at": func.now()},
    )


def _failure(reason: str) -> dict[str, Any]:
    return {"processing_error": reason[:MAX_ERROR_CHARS], "processed_at": func.now()}


async def fail(db: AsyncSession, document_id: uuid.UUID, reason: str) -> Document | None:
    return await _apply(db, DocumentMove.FAIL, document_id, _failure(reason))


async def fail_before_start(db: AsyncSession, document_id: uuid.UUID, reason: str) -> Document | None:
    return await _apply(db, DocumentMove.FAIL_BEFORE_START, document_id, _failure(reason))


async def reprocess(db: AsyncSession, document_id: uuid.UUID, *, owner: uuid.UUID) -> Document | None:
    """completed | failed -> pending (the owner's, not deleted); the old outcome stays until replaced."""
    return await _apply(db, DocumentMove.REPROCESS, document_id, {"processing_error": None}, owner=owner)


async def recover(db: AsyncSession, document_id: uuid.UUID) -> Document | None:
    return await _apply(db, DocumentMove.RECOVER, document_id)
