"""Health checks of MCP agents: consecutive failures counted in Redis, and a check that could not run at all
recorded as a failed one (the probe and its outcome for a readable agent are `agents.check_health`)."""

from __future__ import annotations

import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select, update
from sqlmodel import col

from models import MCPAgent
from models.agents import HealthStatus
from resolvers import agent_lifecycle
from resolvers.unit_of_work import UnitOfWork
from services import keys

UNHEALTHY_AFTER_FAILURES = 3
FAILURES_TTL_SECONDS = 24 * 60 * 60


async def consecutive_failures(redis: Redis, agent_id: uuid.UUID, healthy: bool) -> int:
    """Failures in a row, this check counted (0 once it answers); without Redis a failure counts as enough."""
    failures_key = keys.agent_health_failures(agent_id)
    try:
        if healthy:
            await redis.delete(failures_key)
            return 0
        failures = int(await redis.incr(failures_key))
        await redis.expire(failures_key, FAILURES_TTL_SECONDS)
        return failures
    except (RedisError, OSError):
        return UNHEALTHY_AFTER_FAILURES if not healthy else 0


async def record_failed_check(uow: UnitOfWork, redis: Redis, agent_id: uuid.UUID) -> bool:
    """The agent's check failed before it had an outcome (its row or configuration does not read, or the
    check itself broke): counted as a failed check, exactly as an agent that does not answer is (checked
    now, unhealthy and in error after consecutive failures). Written with UPDATEs that never read the row
    back, since reading it may be what fails. False when it is no longer a live agent the checks cover."""
    live = (
        col(MCPAgent.id) == agent_id,
        col(MCPAgent.deleted_at).is_(None),
        col(MCPAgent.status).in_(tuple(agent_lifecycle.CHECKED)),
    )
    # The id alone, locked as `check_health` locks the agent it records for.
    locked = (await uow.db.execute(select(col(MCPAgent.id)).where(*live).with_for_update())).first()
    if locked is None:
        return False
    failures = await consecutive_failures(redis, agent_id, healthy=False)
    values: dict[str, Any] = {"last_health_check": func.now()}
    if failures >= UNHEALTHY_AFTER_FAILURES:
        values["health_status"] = HealthStatus.UNHEALTHY
    await uow.db.execute(update(MCPAgent).where(*live).values(**values))
    if failures >= UNHEALTHY_AFTER_FAILURES:
        await agent_lifecycle.advance(uow.db, agent_lifecycle.AgentMove.FAIL, agent_id)
    return True
