"""The retention purge as the worker runs it (a daily saq cron) and `gateway purge` runs it once: the rules
(resolvers/retention.py) applied, stored files removed, and what was removed counted for /metrics, in this
process's registry and in Redis (`purge:totals`), so any gateway's /metrics reports the purges every worker
ran."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError
from saq import CronJob

from jobs.context import JobContext, deps_of
from resolvers import retention
from services import keys, metrics
from services.resources import Resources

log = logging.getLogger("gateway.jobs.retention")
PURGE_CRON = "23 3 * * *"  # daily, at a quiet hour (UTC)
PURGE_TIMEOUT_SECONDS = 6 * 60 * 60


async def _record(resources: Resources, outcomes: Sequence[retention.RuleOutcome]) -> None:
    for outcome in outcomes:
        metrics.PURGE_DURATION.labels(outcome.rule).observe(outcome.seconds)
        for table, rows in outcome.rows.items():
            metrics.PURGED_ROWS.labels(outcome.rule, table).inc(rows)
        metrics.PURGED_FILES.labels("removed").inc(outcome.files)
        metrics.PURGED_FILES.labels("failed").inc(outcome.file_failures)
    with contextlib.suppress(RedisError, OSError):  # the process's own counters still hold them
        async with resources.redis.pipeline(transaction=False) as pipe:
            for outcome in outcomes:
                for table, rows in outcome.rows.items():
                    if rows:
                        pipe.hincrby(keys.PURGE_TOTALS, f"{outcome.rule}:{table}", rows)
            pipe.set(keys.PURGE_LAST_SUCCESS, str(int(time.time())))
            await pipe.execute()


def file_remover(resources: Resources) -> retention.RemoveFiles:
    """Removes documents' stored files (after the batch that deleted their rows committed); answers how many
    could not be removed. A file already gone counts as removed: a re-run after a crash finds it so."""

    async def remove(keys_: Sequence[str]) -> int:
        failed = 0
        for key in keys_:
            try:
                await resources.storage.delete(key)
            except Exception:
                failed += 1
                log.warning("retention: the stored file of a purged document could not be removed", exc_info=True)
        return failed

    return remove


async def run_purge(
    resources: Resources, *, dry_run: bool = False, batch_size: int = retention.DEFAULT_BATCH_SIZE
) -> list[retention.RuleOutcome]:
    """Every rule once; counted unless it is a dry run."""
    try:
        outcomes = await retention.purge(
            resources.sessionmaker, dry_run=dry_run, batch_size=batch_size, remove_files=file_remover(resources)
        )
    except Exception:
        if not dry_run:
            metrics.PURGE_RUNS.labels("failed").inc()
        raise
    if not dry_run:
        metrics.PURGE_RUNS.labels("completed").inc()
        await _record(resources, outcomes)
    return outcomes


async def purge_expired(ctx: JobContext) -> dict[str, Any]:
    """saq cron job: the seed's retention policies (module-level: saq keys jobs by qualified name)."""
    outcomes = await run_purge(deps_of(ctx))
    return {outcome.rule: outcome.rows for outcome in outcomes}


RETENTION_CRON_JOBS = [CronJob(purge_expired, cron=PURGE_CRON, timeout=PURGE_TIMEOUT_SECONDS, retries=0)]
