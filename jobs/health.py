"""The periodic agent health check (saq cron)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlmodel import col

from jobs.context import JobContext, WorkerDeps, deps_of
from loaders.visibility import live_agents
from models import MCPAgent
from resolvers.agent_health import record_failed_check
from resolvers.agent_lifecycle import CHECKED
from resolvers.agents import AGENT_CHANGED, AGENT_NOT_FOUND, check_health
from resolvers.problems import Rejected
from resolvers.unit_of_work import UnitOfWork, run_unit_of_work

log = logging.getLogger("gateway.jobs.health")
GONE = (AGENT_CHANGED, AGENT_NOT_FOUND)


def _probe(deps: WorkerDeps, agent_id: uuid.UUID) -> Callable[[UnitOfWork], Awaitable[MCPAgent]]:
    return lambda uow: check_health(uow, deps.redis, deps.box, deps.policy, agent_id)


def _failed(deps: WorkerDeps, agent_id: uuid.UUID) -> Callable[[UnitOfWork], Awaitable[bool]]:
    return lambda uow: record_failed_check(uow, deps.redis, agent_id)


async def _check_one(deps: WorkerDeps, agent_id: uuid.UUID) -> None:
    """One agent's check; whatever breaks in it is that agent's failed check, never the end of the pass."""
    try:
        # Each agent's probe runs outside any transaction; only its outcome is written in one.
        await run_unit_of_work(deps.sessionmaker, deps.events, deps.queues, _probe(deps, agent_id))
        return
    except Rejected as rejected:
        if any(problem in GONE for problem in rejected.problems):
            return  # deleted or changed during its probe: the next run checks it as it is then
        log.warning("agent %s cannot be checked: %s", agent_id, "; ".join(p.message for p in rejected.problems))
    except Exception as error:
        # The type only: the message of a row that does not read may quote its configuration.
        log.warning("health check of agent %s broke (%s); counted as a failed check", agent_id, type(error).__name__)
    try:
        await run_unit_of_work(deps.sessionmaker, deps.events, deps.queues, _failed(deps, agent_id))
    except Exception as error:
        log.error("could not record the failed health check of agent %s (%s)", agent_id, type(error).__name__)


async def check_agents(ctx: JobContext) -> int:
    """Ping every active agent; returns how many were checked."""
    deps = deps_of(ctx)
    async with deps.sessionmaker() as db:
        agent_ids = list(
            (await db.execute(live_agents(col(MCPAgent.id)).where(col(MCPAgent.status).in_(tuple(CHECKED))))).scalars()
        )
    for agent_id in agent_ids:
        await _check_one(deps, agent_id)
    return len(agent_ids)
