"""The worker's maintenance queue runs the token refresh pass every minute and the retention purge daily
(integration data is purged by the one retention purge: tests/retention)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("oauth_resources")


def test_the_maintenance_worker_runs_the_refresh_pass_and_the_purge(oauth_resources: Any) -> None:
    from jobs.context import WorkerDeps
    from jobs.integrations import refresh_tokens
    from jobs.retention import purge_expired
    from jobs.worker import build_workers

    workers = build_workers(WorkerDeps.of(oauth_resources))
    maintenance = next(worker for worker in workers if worker.queue is oauth_resources.queues.maintenance)
    crons = {cron.function: cron.cron for cron in maintenance.cron_jobs}
    assert crons[refresh_tokens] == "* * * * *" and purge_expired in crons
