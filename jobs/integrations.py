"""Integration jobs: the refresh pass (cron, every minute: tokens expiring within the margin are refreshed
before anyone needs them). Their retention (token history 30 days, disconnected rows 90 days) is two rules of
the one retention purge (resolvers/retention.py, jobs/retention.py)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from saq import CronJob

from gateway.settings import Settings
from jobs.context import JobContext, deps_of
from resolvers.integration_vault import RefreshReport, Vault
from services.resources import close_resources, open_resources

log = logging.getLogger("gateway.jobs.integrations")


async def refresh_tokens(ctx: JobContext) -> dict[str, int]:
    """saq cron job: one refresh pass."""
    report = await Vault.of(deps_of(ctx)).refresh_due()
    if report.refreshed or report.expired or report.failed:
        log.info("token refresh: %d refreshed, %d expired, %d failed", report.refreshed, report.expired, report.failed)
    return vars(report)


INTEGRATION_JOBS = [refresh_tokens]
INTEGRATION_CRON_JOBS = [CronJob(refresh_tokens, cron="* * * * *", timeout=120, retries=0)]


@contextlib.asynccontextmanager
async def standalone_vault(settings: Settings, *, database_url: str, redis_url: str) -> AsyncIterator[Vault]:
    """A vault of its own for a command (`gateway refresh-tokens`)."""
    resources = await open_resources(settings, database_url=database_url, redis_url=redis_url, pool_size=4)
    try:
        yield Vault.of(resources)
    finally:
        await close_resources(resources)


async def refresh_once(settings: Settings, *, database_url: str, redis_url: str) -> RefreshReport:
    async with standalone_vault(settings, database_url=database_url, redis_url=redis_url) as vault:
        return await vault.refresh_due()
