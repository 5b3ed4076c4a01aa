"""Integration jobs: the refresh pass (cron, every minute: tokens expiring within the margin are refreshed
before anyone needs them) and the seed's retention (token history 30 days, disconnected rows 90 days)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from saq import CronJob

from gateway.clients import egress_policy, oauth_registry, secret_box
from gateway.db import create_engine, session_factory
from gateway.settings import Settings
from jobs.context import WorkerDeps, deps_of
from resolvers import integration_lifecycle
from resolvers.integration_vault import RefreshReport, Vault
from services.events import EventHub

log = logging.getLogger("gateway.jobs.integrations")


def vault_of(deps: WorkerDeps) -> Vault:
    return Vault(
        sessions=deps.sessions,
        redis=deps.redis,
        box=deps.box,
        policy=deps.policy,
        registry=deps.registry,
        events=deps.events,
        margin_seconds=deps.token_refresh_margin,
    )


async def refresh_tokens(ctx: dict[str, Any]) -> dict[str, int]:
    """saq cron job: one refresh pass."""
    report = await vault_of(deps_of(ctx)).refresh_due()
    if report.refreshed or report.expired or report.failed:
        log.info("token refresh: %d refreshed, %d expired, %d failed", report.refreshed, report.expired, report.failed)
    return vars(report)


async def purge_integrations(ctx: dict[str, Any]) -> dict[str, int]:
    """saq cron job: the seed's retention for integration data."""
    async with deps_of(ctx).sessions() as db, db.begin():
        history, rows = await integration_lifecycle.purge(db)
    return {"history": history, "integrations": rows}


INTEGRATION_JOBS = [refresh_tokens, purge_integrations]
INTEGRATION_CRON_JOBS = [
    CronJob(refresh_tokens, cron="* * * * *", timeout=120, retries=0),
    CronJob(purge_integrations, cron="17 3 * * *", timeout=300, retries=0),
]


@contextlib.asynccontextmanager
async def standalone_vault(settings: Settings, *, database_url: str, redis_url: str) -> AsyncIterator[Vault]:
    """A vault of its own for a command (`gateway refresh-tokens`)."""
    engine = create_engine(database_url, pool_size=4)
    redis = Redis.from_url(redis_url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2)
    events = EventHub(redis)
    try:
        yield Vault(
            sessions=session_factory(engine),
            redis=redis,
            box=secret_box(settings),
            policy=egress_policy(settings),
            registry=oauth_registry(settings),
            events=events,
            margin_seconds=settings.token_refresh_margin,
        )
    finally:
        await events.close()
        await redis.aclose()
        await engine.dispose()


async def refresh_once(settings: Settings, *, database_url: str, redis_url: str) -> RefreshReport:
    async with standalone_vault(settings, database_url=database_url, redis_url=redis_url) as vault:
        return await vault.refresh_due()
