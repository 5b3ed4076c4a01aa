"""The worker's task job: queued under the name the worker knows it by, and jobs queued by a gateway
from before its rename (`run_task`) still run. Builds the saq workers only; nothing connects."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from gateway.db import create_engine, session_factory
from jobs.context import WorkerDeps
from jobs.tasks import execute_task
from jobs.worker import LEGACY_TASK_JOB, build_workers
from services.crypto import dev_secret_box
from services.document_cache import DocumentCache
from services.document_queue import DocumentQueue
from services.egress import EgressPolicy
from services.events import EventHub
from services.storage import Storage
from services.task_queues import EXECUTE_TASK_JOB, TaskQueues


async def test_task_queues_run_their_job_and_the_one_queued_before_its_rename(tmp_path: Path, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    engine = create_engine("postgresql://nobody@127.0.0.1:1/none")  # never connected: workers are not started
    queues = TaskQueues(redis_url)
    documents = DocumentQueue(redis_url, extraction_seconds=10)
    deps = WorkerDeps(
        sessions=session_factory(engine),
        redis=redis,
        box=dev_secret_box(tmp_path),
        policy=EgressPolicy(),
        events=EventHub(redis),
        queues=queues,
        storage=Storage.from_setting(None, tmp_path),
        document_queue=documents,
        document_cache=DocumentCache(redis),
    )
    try:
        workers = build_workers(deps)
        task_workers = [worker for worker in workers if worker.queue in queues.by_priority.values()]
        assert len(task_workers) == len(queues.by_priority)
        for worker in task_workers:
            assert worker.functions[EXECUTE_TASK_JOB] is execute_task
            assert worker.functions[LEGACY_TASK_JOB] is execute_task
        assert EXECUTE_TASK_JOB == execute_task.__qualname__ != LEGACY_TASK_JOB
    finally:
        await engine.dispose()
        await queues.disconnect()
        await documents.disconnect()
        await redis.aclose()
