"""The document processing queue (saq on Redis). Below graph/ and jobs/: the web process queues a
document through it after the upload commits, and the worker registers `PROCESS_DOCUMENT_JOB` on it."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq import Queue
from saq.queue.redis import RedisQueue

from services import keys

DOCUMENTS_QUEUE = keys.DOCUMENTS_QUEUE
# saq keys a job by its function's name: the worker registers jobs.documents.process_document under it.
PROCESS_DOCUMENT_JOB = "process_document"


queued_marker = keys.document_queued
lease_key = keys.document_lease  # a PROCESSING document without one lost its worker


QUEUED_TTL_SECONDS = 15 * 60


def job_timeout(extraction_seconds: float) -> int:
    """saq kills a job past this: the extraction's own limit plus fetching the file and writing the outcome."""
    return int(extraction_seconds) + 60


class DocumentQueue:
    def __init__(self, redis_url: str, *, extraction_seconds: float) -> None:
        # A client of our own rather than saq's from_url, which knows no unix:// URLs (the embedded Redis).
        self._client = Redis.from_url(redis_url)
        self.queue: Queue = RedisQueue(self._client, name=DOCUMENTS_QUEUE)
        self.extraction_seconds = extraction_seconds
        self._marks = Redis.from_url(redis_url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)

    async def enqueue(self, document_id: uuid.UUID) -> bool:
        """Queue one processing of the document; False when Redis is away (the caller logs it, and the
        document stays PENDING until `reprocessDocument` or the worker's sweep queues it again)."""
        try:
            await self._marks.set(queued_marker(document_id), "1", ex=QUEUED_TTL_SECONDS)
            await self.queue.enqueue(
                PROCESS_DOCUMENT_JOB,
                key=keys.document_job(document_id),
                document_id=str(document_id),
                timeout=job_timeout(self.extraction_seconds),
                retries=1,
                ttl=600,
            )
        except (RedisError, OSError):
            return False
        return True

    async def take_lease(self, document_id: uuid.UUID) -> None:
        """A worker starts on the document: it is no longer queued, and it is leased for one job's time."""
        try:
            async with self._marks.pipeline(transaction=False) as pipe:
                pipe.delete(queued_marker(document_id))
                pipe.set(lease_key(document_id), "1", ex=job_timeout(self.extraction_seconds))
                await pipe.execute()
        except (RedisError, OSError):
            return  # without Redis the sweep cannot run either

    async def release_lease(self, document_id: uuid.UUID) -> None:
        try:
            await self._marks.delete(lease_key(document_id))
        except (RedisError, OSError):
            return

    async def unattended(self, ids: list[uuid.UUID], *, processing: bool) -> list[uuid.UUID]:
        """Of `ids`, those with no queued job (pending) or no worker's lease (processing)."""
        if not ids:
            return []
        keys = [lease_key(pk) if processing else queued_marker(pk) for pk in ids]
        present = await self._marks.mget(keys)
        return [pk for pk, value in zip(ids, present, strict=True) if value is None]

    async def disconnect(self) -> None:
        await self.queue.disconnect()
        await self._client.aclose()
        await self._marks.aclose()
