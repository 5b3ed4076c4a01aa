"""The worker's task job: queued under the name the worker knows it by, and jobs queued by a gateway
from before its rename (`run_task`) still run. Builds the saq workers only; nothing connects."""

from __future__ import annotations

from pathlib import Path

from gateway.settings import Settings
from jobs.context import WorkerDeps
from jobs.tasks import execute_task
from jobs.worker import LEGACY_TASK_JOB, build_workers
from services.resources import close_resources, open_resources
from services.task_queues import EXECUTE_TASK_JOB


async def test_task_queues_run_their_job_and_the_one_queued_before_its_rename(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(GATEWAY_DATA_DIR=str(tmp_path))
    # Never connected: the workers are built, not started.
    deps = WorkerDeps.of(
        await open_resources(settings, database_url="postgresql://nobody@127.0.0.1:1/none", redis_url=redis_url)
    )
    queues = deps.queues
    try:
        workers = build_workers(deps)
        task_workers = [worker for worker in workers if worker.queue in queues.by_priority.values()]
        assert len(task_workers) == len(queues.by_priority)
        for worker in task_workers:
            assert worker.functions[EXECUTE_TASK_JOB] is execute_task
            assert worker.functions[LEGACY_TASK_JOB] is execute_task
        assert EXECUTE_TASK_JOB == execute_task.__qualname__ != LEGACY_TASK_JOB
    finally:
        await close_resources(deps)
