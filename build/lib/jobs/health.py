"""The periodic agent health check (saq cron)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from jobs.context import deps_of
from models import MCPAgent
from models.agents import AgentStatus
from resolvers.agents import check_health
from resolvers.problems import Rejected
from resolvers.unit_of_work import run_unit_of_work

log = logging.getLogger("gateway.jobs.health")


async def check_agents(ctx: dict[str, Any]) -> int:
    """Ping every active agent; returns how many were checked."""
    deps = deps_of(ctx)
    async with deps.sessions() as session:
        agent_ids = list(
            (
                await session.execute(
                    select(MCPAgent.id).where(MCPAgent.status == AgentStatus.ACTIVE, MCPAgent.deleted_at.is_(None))
                )
            ).scalars()
        )
    for agent_id in agent_ids:
        try:
            # Each agent's probe runs outside any transaction; only its outcome is written in one.
            await run_unit_of_work(
                deps.sessions,
                deps.events,
                deps.queues,
                lambda uow, agent_id=agent_id: check_health(uow, deps.redis, deps.box, deps.policy, agent_id),
            )
        except Rejected:
            continue  # deleted or changed during its probe: the next run checks it as it is then
    return len(agent_ids)
