"""The seed's retention for integration data: token history 30 days, disconnected integrations 90 days;
and the worker's maintenance queue runs the refresh pass and the purge on their crons."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from resolvers import integration_lifecycle

pytestmark = pytest.mark.usefixtures("oauth_resources")


async def _integration(pg: asyncpg.Connection, user_id: Any, provider: str, *, disconnected_days: int | None) -> Any:
    return await pg.fetchval(
        "INSERT INTO integrations (user_id, provider, encrypted_tokens, status, deleted_at)"
        " VALUES ($1, $2, '', $3, CASE WHEN $4::int IS NULL THEN NULL ELSE now() - make_interval(days => $4) END)"
        " RETURNING id",
        user_id,
        provider,
        "connected" if disconnected_days is None else "disconnected",
        disconnected_days,
    )


async def test_purge_keeps_what_the_seed_keeps(oauth_resources: Any, pg: asyncpg.Connection) -> None:
    user_id = await pg.fetchval(
        "INSERT INTO users (email, password_hash, first_name, last_name)"
        " VALUES ('retention-' || gen_random_uuid() || '@example.com', 'x', 'R', 'P') RETURNING id"
    )
    live = await _integration(pg, user_id, "gmail", disconnected_days=None)
    recent = await _integration(pg, user_id, "slack", disconnected_days=89)
    old = await _integration(pg, user_id, "hubspot", disconnected_days=91)
    for days in (29, 31):
        await pg.execute(
            "INSERT INTO integration_token_events (integration_id, kind, outcome, attempted_at)"
            " VALUES ($1, 'refresh', 'ok', now() - make_interval(days => $2))",
            live,
            days,
        )
    async with oauth_resources.sessions() as db, db.begin():
        history, rows = await integration_lifecycle.purge(db)
    assert history >= 1 and rows >= 1
    left = {row["id"] for row in await pg.fetch("SELECT id FROM integrations WHERE user_id = $1", user_id)}
    assert left == {live, recent} and old not in left
    ages = await pg.fetch(
        "SELECT extract(day FROM now() - attempted_at)::int AS days FROM integration_token_events"
        " WHERE integration_id = $1",
        live,
    )
    assert [row["days"] for row in ages] == [29]


def test_the_maintenance_worker_runs_the_refresh_pass_and_the_purge(oauth_resources: Any) -> None:
    from jobs.context import WorkerDeps
    from jobs.integrations import purge_integrations, refresh_tokens
    from jobs.worker import build_workers

    workers = build_workers(WorkerDeps.of(oauth_resources))
    maintenance = next(worker for worker in workers if worker.queue is oauth_resources.queues.maintenance)
    crons = {cron.function: cron.cron for cron in maintenance.cron_jobs}
    assert crons[refresh_tokens] == "* * * * *" and purge_integrations in crons
