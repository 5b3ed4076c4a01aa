"""The document processing job: pending -> processing -> completed | failed, each move a unit of work
whose commit is followed by the cache invalidation and the `documentUpdated` event.

The file is fetched and extracted between two short transactions (no network call or slow extraction
inside one), in a child process with its own time and memory limits (services/extraction/runner.py):
a hostile file fails its document, and the worker goes on with the next job."""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jobs.context import JobContext, WorkerDeps, deps_of
from loaders.visibility import documents
from models import Document
from models.documents import ProcessingStatus
from resolvers import document_lifecycle
from resolvers.documents import announce
from resolvers.unit_of_work import UnitOfWork, run_unit_of_work
from services.extraction.runner import run_extraction
from services.storage import StoredObjectMissing

log = logging.getLogger("gateway.documents")


async def _moved(deps: WorkerDeps, move: Callable[[AsyncSession], Awaitable[Document | None]]) -> Document | None:
    async def work(uow: UnitOfWork) -> Document | None:
        document = await move(uow.db)
        if document is not None:
            announce(uow, deps.document_cache, document)
        return document

    return await run_unit_of_work(deps.sessionmaker, deps.events, deps.queues, work)


async def process(deps: WorkerDeps, document_id: uuid.UUID) -> Document | None:
    """Process one document; its final row, or None when another job had it (or it was not pending)."""
    claimed = await _moved(deps, lambda db: document_lifecycle.claim(db, document_id))
    if claimed is None:
        return None
    await deps.document_queue.take_lease(document_id)
    try:
        return await _extract(deps, claimed)
    finally:
        await deps.document_queue.release_lease(document_id)


async def _extract(deps: WorkerDeps, claimed: Document) -> Document | None:
    document_id = claimed.id
    with tempfile.TemporaryDirectory(prefix="document-") as folder:
        local = Path(folder) / "original"
        try:
            with local.open("wb") as target:
                await deps.storage.save_to(claimed.file_path, target)
        except StoredObjectMissing:
            missing = "The stored file is missing."
            return await _moved(deps, lambda db: document_lifecycle.fail(db, document_id, missing))
        outcome = await run_extraction(local, claimed.mime_type, timeout=deps.document_timeout)
    if outcome.error is not None or outcome.text is None or outcome.data is None:
        reason = outcome.error or "Processing stopped unexpectedly."
        log.info("document %s failed: %s", document_id, reason)
        return await _moved(deps, lambda db: document_lifecycle.fail(db, document_id, reason))
    text, data = outcome.text, outcome.data
    try:
        return await _moved(deps, lambda db: document_lifecycle.complete(db, document_id, text, data))
    except Exception:
        # e.g. a text whose words are too many for one tsvector: the document fails, the worker goes on.
        log.exception("document %s: the extracted text could not be stored", document_id)
        unstorable = "The extracted text could not be stored."
        return await _moved(deps, lambda db: document_lifecycle.fail(db, document_id, unstorable))


# Pending documents older than this with no job waiting are queued again (their job was lost with Redis,
# or queueing failed after the commit).
LOST_AFTER = timedelta(minutes=2)
SWEEP_BATCH = 200


async def sweep_documents(deps: WorkerDeps) -> int:
    """Queue again what lost its job: a PENDING document with no job waiting, a PROCESSING one whose
    worker's lease ran out (moved back to PENDING first). The table is the source of truth; a second job
    for one document is harmless (only one claims it). How many were queued."""
    async with deps.sessionmaker() as db:
        rows = (
            await db.execute(
                select(documents.c.id, documents.c.processing_status)
                .where(
                    documents.c.processing_status.in_((ProcessingStatus.PENDING, ProcessingStatus.PROCESSING)),
                    documents.c.uploaded_at < func.now() - LOST_AFTER,
                )
                .limit(SWEEP_BATCH)
            )
        ).all()
    pending = [row.id for row in rows if row.processing_status == ProcessingStatus.PENDING]
    processing = [row.id for row in rows if row.processing_status == ProcessingStatus.PROCESSING]
    queue = deps.document_queue
    lost = await queue.unattended(pending, processing=False)
    for document_id in await queue.unattended(processing, processing=True):
        if await _moved(deps, partial(document_lifecycle.recover, document_id=document_id)) is not None:
            log.warning("document %s lost its worker; processing it again", document_id)
            lost.append(document_id)
    for document_id in lost:
        await queue.enqueue(document_id)
    return len(lost)


async def process_document(ctx: JobContext, *, document_id: str) -> None:
    """saq job (`PROCESS_DOCUMENT_JOB`)."""
    await process(deps_of(ctx), uuid.UUID(document_id))
