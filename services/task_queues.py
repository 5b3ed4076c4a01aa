"""The task queues. saq orders by priority only on its Postgres backend, so on Redis each priority has
a queue of its own (the worker gives each its own slots, jobs/queues.py). Below graph/ and jobs/: the web
process queues tasks through it as the worker does."""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq import Queue
from saq.queue.redis import RedisQueue

from models.tasks import TaskPriority
from services import keys, tracing
from services.keys import MAINTENANCE_QUEUE

QUEUE_NAMES = {priority: keys.task_queue(priority) for priority in TaskPriority}
# The worker registers jobs.assistant.answer_session under this name.
ANSWER_SESSION_JOB = "answer_session"
# saq keys a job by its function's name: the worker registers jobs.tasks.execute_task under this name.
EXECUTE_TASK_JOB = "execute_task"


# Redis marks of a task, beside its jobs: `task_enqueued` is set while the task has a job in the queue
# (gone after a Redis restart: the sweep then queues the pending task again from the table, which is the
# source of truth); `task_queue_attempts` counts the sweep's queueings since a worker last took a job.


# Deletes the task's mark only while it names the job that ends (KEYS[1] the mark, ARGV[1] the job's key),
# and the sweep's count of queueings (KEYS[2]) in any case: one round trip.
FORGET_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('DEL', KEYS[2])
return 1
"""


class TaskQueues:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        # Built on a client of our own rather than saq's from_url, which knows no unix:// URLs (the
        # embedded Redis listens on a socket file).
        self._client = Redis.from_url(redis_url)
        self.by_priority: dict[TaskPriority, Queue] = {
            priority: RedisQueue(self._client, name=name) for priority, name in QUEUE_NAMES.items()
        }
        self.maintenance: Queue = RedisQueue(self._client, name=MAINTENANCE_QUEUE)
        self.assistant: Queue = RedisQueue(self._client, name=keys.ASSISTANT_QUEUE)
        self._marks = Redis.from_url(redis_url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
        self._forget_script = self._marks.register_script(FORGET_SCRIPT)

    async def enqueue_task(
        self,
        task_id: uuid.UUID,
        priority: TaskPriority,
        *,
        timeout_seconds: int,
        not_before: datetime | None = None,
        delay: float = 0.0,
    ) -> bool:
        """Queue one attempt to move the task on; False (logged by the caller) when Redis is away."""
        scheduled = time.time() + delay
        if not_before is not None:
            scheduled = max(scheduled, not_before.timestamp())
        job_key = keys.task_job(task_id)
        try:
            # The mark names the job, so the job clears only its own mark, never a later job's.
            await self._marks.set(keys.task_enqueued(task_id), job_key)
            await self.by_priority[priority].enqueue(
                EXECUTE_TASK_JOB,
                key=job_key,
                task_id=str(task_id),
                scheduled=int(scheduled) if scheduled > time.time() + 0.5 else 0,
                timeout=timeout_seconds,
                retries=1,
                ttl=600,
                meta={"trace": tracing.carrier()},  # the job's span continues the enqueuing request's trace
            )
            return True
        except (RedisError, OSError):
            # No marker without a job, or the sweep would wait for a job that never comes.
            with contextlib.suppress(RedisError, OSError):
                await self._marks.delete(keys.task_enqueued(task_id))
            return False

    async def enqueue_reply(self, session_id: uuid.UUID, *, timeout_seconds: int) -> bool:
        """Wake a worker to produce the session's queued replies, in order; False when Redis is away (the
        sweep queues it again). Each call is a job of its own: a job that finds the session busy or
        empty ends at once, so none is lost to deduplication."""
        try:
            await self.assistant.enqueue(
                ANSWER_SESSION_JOB,
                key=keys.reply_job(session_id),
                session_id=str(session_id),
                timeout=timeout_seconds,
                retries=0,
                ttl=600,
                meta={"trace": tracing.carrier()},
            )
            return True
        except (RedisError, OSError):
            return False

    async def forget(self, task_id: uuid.UUID | str, job_key: str | None = None) -> None:
        """A worker took the task's job and is done starting it (claimed it, queued it again, or found it
        moved on): the job's mark goes (only if it still names this job: a job queued again in the
        meantime keeps its own), and the sweep's count starts again. Called after the claim, not at
        pick-up, so the sweep never sees a task that is pending and unmarked while its job is starting."""
        with contextlib.suppress(RedisError, OSError):
            if job_key is None:
                await self._marks.delete(keys.task_enqueued(task_id), keys.task_queue_attempts(task_id))
            else:
                await self._forget_script(
                    keys=[keys.task_enqueued(task_id), keys.task_queue_attempts(task_id)], args=[job_key]
                )

    async def count_queue_attempt(self, task_id: uuid.UUID | str) -> int:
        """One more time the sweep had to queue the task; counts within a day."""
        key = keys.task_queue_attempts(task_id)
        attempts = int(await self._marks.incr(key))
        await self._marks.expire(key, 24 * 60 * 60)
        return attempts

    async def is_enqueued(self, task_id: uuid.UUID | str) -> bool:
        return bool(await self._marks.exists(keys.task_enqueued(task_id)))

    async def disconnect(self) -> None:
        for queue in (*self.by_priority.values(), self.maintenance, self.assistant):
            await queue.disconnect()
        await self._client.aclose()
        await self._marks.aclose()
