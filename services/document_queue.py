"""The document processing queue (saq on Redis). Below graph/ and jobs/: the web process queues a
document through it after the upload commits, and the worker registers `PROCESS_DOCUMENT_JOB` on it."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq import Queue
from saq.queue.redis import RedisQueue

DOCUMENTS_QUEUE = "documents"
# saq keys a job by its function's name: the worker registers jobs.documents.process_document under it.
PROCESS_DOCUMENT_JOB = "process_document"


def job_timeout(extraction_seconds: float) -> int:
    """saq kills a job past this: the extraction's own limit plus fetching the file and writing the outcome."""
    return int(extraction_seconds) + 60


class DocumentQueue:
    def __init__(self, redis_url: str, *, extraction_seconds: float) -> None:
        # A client of our own rather than saq's from_url, which knows no unix:// URLs (the embedded Redis).
        self._client = Redis.from_url(redis_url)
        self.queue: Queue = RedisQueue(self._client, name=DOCUMENTS_QUEUE)
        self.extraction_seconds = extraction_seconds

    async def enqueue(self, document_id: uuid.UUID) -> bool:
        """Queue one processing of the document; False when Redis is away (the caller logs it, and the
        document stays PENDING until `reprocessDocument` or the worker's sweep queues it again)."""
        try:
            await self.queue.enqueue(
                PROCESS_DOCUMENT_JOB,
                key=f"document:{document_id}:{uuid.uuid4().hex[:8]}",
                document_id=str(document_id),
                timeout=job_timeout(self.extraction_seconds),
                retries=1,
                ttl=600,
            )
        except (RedisError, OSError):
            return False
        return True

    async def disconnect(self) -> None:
        await self.queue.disconnect()
        await self._client.aclose()
