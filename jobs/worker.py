"""The worker: saq workers for the task queues (one per priority) and the maintenance queue (agent health
cron, the daily retention purge), plus the sweep that recovers lost work. `gateway worker` runs it; on the
embedded default `gateway serve` runs it in-process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from saq import CronJob, Worker
from saq.types import TimersDict

from gateway.settings import Settings
from jobs.assistant import answer_session
from jobs.context import JobContext, WorkerDeps
from jobs.documents import process_document, sweep_documents
from jobs.health import check_agents
from jobs.integrations import INTEGRATION_CRON_JOBS, INTEGRATION_JOBS
from jobs.queues import SLOTS
from jobs.retention import RETENTION_CRON_JOBS, purge_expired
from jobs.sweep import sweep
from jobs.tasks import execute_task
from services import metrics, tracing
from services.document_queue import PROCESS_DOCUMENT_JOB
from services.resources import close_resources, open_resources
from services.task_queues import ANSWER_SESSION_JOB, EXECUTE_TASK_JOB

log = logging.getLogger("gateway.worker")
SWEEP_SECONDS = 5.0


class EmbeddedWorker(Worker[JobContext]):
    """saq's worker without its own signal handlers: the process that runs it owns the signals."""

    SIGNALS: list[signal.Signals] = []  # noqa: RUF012


# Jobs queued by a gateway from before the job's rename (scheduled ones up to a year ahead) still run.
LEGACY_TASK_JOB = "run_task"
TASK_JOBS = [(EXECUTE_TASK_JOB, execute_task), (LEGACY_TASK_JOB, execute_task)]


async def open_job_span(ctx: JobContext) -> None:
    """A span for the job, in the trace of the request that enqueued it."""
    job = ctx.get("job")
    if job is not None:
        parent = tracing.parent_of((job.meta or {}).get("trace"))
        ctx["span"] = tracing.tracer.start_span(
            f"job {job.function}", context=parent, attributes={"saq.job.key": job.key, "saq.job.attempt": job.attempts}
        )


async def record_job(ctx: JobContext) -> None:
    """A job's run time and outcome for /metrics (a retried job counts under its new status, `queued`)."""
    job = ctx.get("job")
    if job is not None and job.started:
        seconds = max(0, time.time() * 1000 - job.started) / 1000
        metrics.JOB_DURATION.labels(job.function, str(job.status.value)).observe(seconds)
    span = ctx.pop("span", None)
    if span is not None:
        if job is not None:
            span.set_attribute("saq.job.status", str(job.status.value))
        span.end()


# saq's defaults but for its sweep of stuck jobs (60 s). Every key is given: saq's PartialTimersDict inherits
# its keys as required from TimersDict, so a partial one does not type-check.
TIMERS = TimersDict(schedule=1, worker_info=10, sweep=10, abort=1)


def build_workers(deps: WorkerDeps) -> list[EmbeddedWorker]:
    async def startup(ctx: JobContext) -> None:
        ctx["deps"] = deps

    workers = [
        EmbeddedWorker(
            queue,
            functions=TASK_JOBS,
            concurrency=SLOTS[priority],
            startup=startup,
            before_process=open_job_span,
            after_process=record_job,
            timers=TIMERS,
        )
        for priority, queue in deps.queues.by_priority.items()
    ]
    workers.append(
        EmbeddedWorker(
            deps.document_queue.queue,
            functions=[(PROCESS_DOCUMENT_JOB, process_document)],
            startup=startup,
            before_process=open_job_span,
            after_process=record_job,
            concurrency=deps.settings.document_concurrency,
        )
    )
    workers.append(
        EmbeddedWorker(
            deps.queues.assistant,
            functions=[(ANSWER_SESSION_JOB, answer_session)],
            concurrency=deps.settings.assistant_concurrency,
            startup=startup,
            before_process=open_job_span,
            after_process=record_job,
            timers=TIMERS,
        )
    )
    workers.append(
        EmbeddedWorker(
            deps.queues.maintenance,
            functions=[check_agents, purge_expired, *INTEGRATION_JOBS],
            startup=startup,
            before_process=open_job_span,
            after_process=record_job,
            concurrency=2,
            cron_jobs=[
                CronJob(check_agents, cron="* * * * *", timeout=120, retries=0),
                *INTEGRATION_CRON_JOBS,
                *RETENTION_CRON_JOBS,
            ],
        )
    )
    return workers


async def run(settings: Settings, *, database_url: str, redis_url: str, stop: asyncio.Event) -> None:
    resources = await open_resources(
        settings,
        database_url=database_url,
        redis_url=redis_url,
        pool_size=settings.worker_db_pool_size,
        redis_timeout=5.0,
    )
    deps = WorkerDeps.of(resources)
    workers = build_workers(deps)
    running = [asyncio.create_task(worker.start()) for worker in workers]
    log.info("worker %s started", deps.worker_id)

    async def sweeping() -> None:
        while True:
            try:
                await sweep(deps)
            except Exception:
                log.exception("sweep round failed")
            try:
                await sweep_documents(deps)
            except Exception:
                log.exception("document sweep round failed")
            await asyncio.sleep(SWEEP_SECONDS)

    sweeper = asyncio.create_task(sweeping())
    try:
        await stop.wait()
    finally:
        sweeper.cancel()
        for worker in workers:
            with contextlib.suppress(Exception):
                await worker.stop()
        for task in running:
            task.cancel()
        await asyncio.gather(sweeper, *running, return_exceptions=True)
        await close_resources(deps)
        log.info("worker %s stopped", deps.worker_id)


def main(settings: Settings, *, database_url: str, redis_url: str) -> None:
    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run(settings, database_url=database_url, redis_url=redis_url, stop=stop)

    asyncio.run(serve())
