"""The periodic agent health check (saq cron)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlmodel import col

from jobs.context import JobContext, WorkerDeps, deps_of
from loaders.visibility import live_agents
from models import MCPAgent
from resolvers.agent_lifecycle import CHECKED
from resolvers.agents import check_health
from resolvers.problems import Rejected
from resolvers.unit_of_work import UnitOfWork, run_unit_of_work

log = logging.getLogger("gateway.jobs.health")


def _probe(deps: WorkerDeps, agent_id: uuid.UUID) -> Callable[[UnitOfWork], Awaitable[MCPAgent]]:
    return lambda uow: check_health(uow, deps.redis, deps.box, deps.policy, agent_id)


async def check_agents(ctx: JobContext) -> int:
    """Ping every active agent; returns how many were checked."""
    deps = deps_of(ctx)
    async with deps.sessionmaker() as db:
        agent_ids = list(
            (await db.execute(live_agents(col(MCPAgent.id)).where(col(MCPAgent.status).in_(tuple(CHECKED))))).scalars()
        )
    for agent_id in agent_ids:
        try:
            # Each agent's probe runs outside any transaction; only its outcome is written in one.
            await run_unit_of_work(
                deps.sessionmaker,
                deps.events,
                deps.queues,
                _probe(deps, agent_id),
            )
        except Rejected:
            continue  # deleted or changed during its probe: the next run checks it as it is then
    return len(agent_ids)
