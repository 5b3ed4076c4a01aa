"""The MCP agent registry: register, update, delete, rediscover, check health. Operators only (the
graph declares it); API keys are encrypted at rest and never returned."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loaders.visibility import live_agents
from models import MCPAgent
from models.agents import (
    AgentConfig,
    AuthenticationType,
    HealthStatus,
)
from models.base import database_now
from resolvers import agent_lifecycle
from resolvers.agent_health import UNHEALTHY_AFTER_FAILURES, consecutive_failures
from resolvers.agent_links import (
    AgentSnapshot,
    CredentialUnavailable,
    config_of,
    link_for,
    reach_of,
    resealed,
)
from resolvers.agent_settings import (
    AgentSettings,
    check_ranges,
    check_urls,
    config_to_update,
    configuration,
    unreadable,
)
from resolvers.agent_tools import capabilities_problem
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.unit_of_work import UnitOfWork
from resolvers.validation import check_length, collect
from services import keys, mcp
from services.credentials import origin_of
from services.crypto import SecretBox
from services.egress import EgressPolicy, guarded_client

log = logging.getLogger("gateway.agents")
CAPABILITIES_TTL_SECONDS = 6 * 60 * 60  # the seed's "MCP agent capabilities: Redis with 6h TTL"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
AGENT_NOT_FOUND = Problem("input.agentId", ErrorCode.NOT_FOUND, "No such agent.")
# The peer was called with the agent as read, unlocked; the agent changed before its answer could be stored.
AGENT_CHANGED = Problem(
    "input.agentId",
    ErrorCode.INVALID_STATE,
    "The agent was changed while the gateway was calling it; nothing was stored. Try again.",
)


def _cache_after_commit(uow: UnitOfWork, redis: Redis, agent: MCPAgent) -> None:
    uow.after_commit(lambda: cache_capabilities(redis, agent.id, agent.capabilities))


async def cache_capabilities(redis: Redis, agent_id: uuid.UUID, capabilities: list[dict[str, Any]]) -> None:
    with contextlib.suppress(RedisError, OSError):  # the table holds them too; the cache only saves a read
        await redis.set(keys.agent_capabilities(agent_id), json.dumps(capabilities), ex=CAPABILITIES_TTL_SECONDS)


async def capabilities_of(redis: Redis, db: AsyncSession, agent_id: uuid.UUID) -> list[dict[str, Any]] | None:
    """The agent's tools: from the cache, else from the table (and cached again); None: no such agent."""
    try:
        cached = await redis.get(keys.agent_capabilities(agent_id))
    except (RedisError, OSError):
        cached = None
    if cached is not None:
        return json.loads(cached)  # type: ignore[no-any-return]
    agent = (await db.execute(live_agents(MCPAgent).where(col(MCPAgent.id) == agent_id))).scalar_one_or_none()
    if agent is None:
        return None
    await cache_capabilities(redis, agent_id, agent.capabilities or [])
    return agent.capabilities or []


async def _discover(agent: MCPAgent | AgentSnapshot, box: SecretBox, policy: EgressPolicy) -> mcp.Discovery:
    try:
        discovery = await mcp.discover(link_for(agent, box, policy))
    except CredentialUnavailable as unavailable:
        raise Rejected(
            [Problem("input.configuration.authentication.apiKey", ErrorCode.INVALID_STATE, str(unavailable))]
        ) from None
    except mcp.AgentUnreachable as error:
        raise Rejected(
            [Problem("input.endpoint", ErrorCode.UNREACHABLE, f"The agent did not answer as an MCP server ({error}).")]
        ) from None
    if (unfit := capabilities_problem(discovery.tools)) is not None:
        raise Rejected([unfit])
    return discovery


async def _name_taken(db: AsyncSession, name: str) -> bool:
    """Whether a live agent has the name (a deleted agent's name is free: UNIQUE holds for live agents)."""
    live = select(func.count()).where(col(MCPAgent.name) == name, col(MCPAgent.deleted_at).is_(None))
    return bool((await db.execute(live)).scalar_one())


async def register_agent(
    uow: UnitOfWork, redis: Redis, box: SecretBox, policy: EgressPolicy, data: AgentSettings
) -> MCPAgent:
    """Check, discover the agent's tools (no transaction open), then insert."""
    name = (data.name or "").strip()
    problems = collect(check_length("input.name", name, minimum=1, maximum=100, label="The name"))
    if name and not problems and not NAME_RE.match(name):
        problems.append(Problem("input.name", ErrorCode.INVALID, "Use letters, digits, '.', '_' and '-'."))
    if not data.endpoint:
        problems.append(Problem("input.endpoint", ErrorCode.REQUIRED, "The MCP endpoint URL is required."))
    if data.auth_type in (AuthenticationType.APIKEY, AuthenticationType.OAUTH) and not data.api_key:
        problems.append(
            Problem(
                "input.configuration.authentication.apiKey",
                ErrorCode.REQUIRED,
                "This authentication needs a key or token.",
            )
        )
    problems += check_ranges(data) + await check_urls(data, policy)
    taken: bool = bool(name) and await _name_taken(uow.db, name)
    if taken:
        problems.append(Problem("input.name", ErrorCode.ALREADY_EXISTS, "An agent with this name exists."))
    if problems:
        raise Rejected(problems)
    assert data.endpoint is not None  # checked above: a missing one is a problem raised
    agent = MCPAgent(
        name=name, endpoint=data.endpoint, description=data.description, health_check_url=data.health_check_url or None
    )
    agent.configuration = configuration(AgentConfig(), data, box, agent_id=agent.id, endpoint=agent.endpoint).dump()
    await uow.release()
    discovery = await _discover(agent, box, policy)
    agent.capabilities, agent.version = discovery.tools, (discovery.version or None)
    if agent.version and len(agent.version) > 20:
        agent.version = agent.version[:20]
    uow.db.add(agent)
    try:
        await uow.db.flush()
    except IntegrityError:  # the same name, registered while the agent was being asked
        raise Rejected([Problem("input.name", ErrorCode.ALREADY_EXISTS, "An agent with this name exists.")]) from None
    await uow.db.refresh(agent)
    _cache_after_commit(uow, redis, agent)
    return agent


async def _readable(db: AsyncSession, agent_id: uuid.UUID | None, *, lock: bool) -> MCPAgent:
    """The agent, not deleted, read afresh (the session may hold an older copy from the read made before
    a call to the peer); with `lock`, its row locked until the transaction ends."""
    if agent_id is None:
        raise Rejected([AGENT_NOT_FOUND])
    query = live_agents(MCPAgent).where(col(MCPAgent.id) == agent_id).execution_options(populate_existing=True)
    agent: MCPAgent | None = (await db.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if agent is None:
        raise Rejected([AGENT_NOT_FOUND])
    return agent


async def _live(db: AsyncSession, agent_id: uuid.UUID | None) -> MCPAgent:
    return await _readable(db, agent_id, lock=True)


async def _snapshot(db: AsyncSession, agent_id: uuid.UUID | None) -> AgentSnapshot:
    agent = await _readable(db, agent_id, lock=False)
    try:
        return AgentSnapshot.of(agent)
    except ValueError as error:
        raise Rejected([unreadable(error)]) from None


def _check_key_follows_origin(agent: MCPAgent, stored: AgentConfig, data: AgentSettings) -> None:
    """A key goes only to the origin it was registered for: moving the endpoint to another origin needs
    the key again in the same update (or authentication NONE)."""
    if data.endpoint is None or data.api_key or data.auth_type is AuthenticationType.NONE:
        return
    if stored.sealed_key is None or not stored.sealed_key.secret:
        return
    if origin_of(data.endpoint) != origin_of(agent.endpoint):
        raise Rejected(
            [
                Problem(
                    "input.configuration.authentication.apiKey",
                    ErrorCode.REQUIRED,
                    "The endpoint moves to another origin: give the API key again (authentication.apiKey); "
                    "a key is only sent where it was registered.",
                )
            ]
        )


async def _plan_reconnect(
    db: AsyncSession, agent_id: uuid.UUID | None, data: AgentSettings, box: SecretBox
) -> AgentSnapshot:
    """The agent as the update would leave it, to discover with before anything is locked; the checks
    that would refuse the update come first, so a refused update calls no one."""
    agent = await _readable(db, agent_id, lock=False)
    await _check_name(db, agent, data)
    stored = config_to_update(agent)
    _check_key_follows_origin(agent, stored, data)
    endpoint = data.endpoint if data.endpoint is not None else agent.endpoint
    return AgentSnapshot(
        id=agent.id,
        endpoint=endpoint,
        health_check_url=agent.health_check_url,
        configuration=configuration(stored, data, box, agent_id=agent.id, endpoint=endpoint),
        updated_at=agent.updated_at,
    )


async def _check_name(db: AsyncSession, agent: MCPAgent, data: AgentSettings) -> None:
    if data.name is not None and data.name.strip() != agent.name and await _name_taken(db, data.name.strip()):
        raise Rejected([Problem("input.name", ErrorCode.ALREADY_EXISTS, "An agent with this name exists.")])


async def _apply(db: AsyncSession, agent: MCPAgent, data: AgentSettings, box: SecretBox) -> None:
    await _check_name(db, agent, data)
    if data.name is not None:
        agent.name = data.name.strip()
    stored = config_to_update(agent)
    _check_key_follows_origin(agent, stored, data)
    if not data.api_key:
        with contextlib.suppress(CredentialUnavailable):  # an unusable key fails where it is used, clearly
            stored = resealed(stored, box, agent.id, agent.endpoint)
    if data.endpoint is not None:
        agent.endpoint = data.endpoint
    if data.description is not None:
        agent.description = data.description or None
    if data.health_check_url is not None:
        agent.health_check_url = data.health_check_url or None
    agent.configuration = configuration(stored, data, box, agent_id=agent.id, endpoint=agent.endpoint).dump()


async def update_agent(
    uow: UnitOfWork,
    redis: Redis,
    box: SecretBox,
    policy: EgressPolicy,
    agent_id: uuid.UUID | None,
    data: AgentSettings,
) -> MCPAgent:
    """A new endpoint or authentication is discovered first, with no transaction open; the write then
    stores it only if no other update came in meanwhile (the discovery was made for the row as read)."""
    problems = check_ranges(data) + await check_urls(data, policy)
    if data.name is not None:
        problems += collect(check_length("input.name", data.name.strip(), minimum=1, maximum=100, label="The name"))
    if problems:
        raise Rejected(problems)
    planned: AgentSnapshot | None = None
    discovery: mcp.Discovery | None = None
    if data.endpoint is not None or data.auth_type is not None:
        planned = await _plan_reconnect(uow.db, agent_id, data, box)
        await uow.release()
        discovery = await _discover(planned, box, policy)
    agent = await _live(uow.db, agent_id)
    if planned is not None and agent.updated_at != planned.updated_at:
        raise Rejected([AGENT_CHANGED])
    await _apply(uow.db, agent, data, box)
    if discovery is not None:
        agent.capabilities, agent.version = discovery.tools, (discovery.version or None)
    agent.updated_at = database_now()
    await uow.db.flush()
    await uow.db.refresh(agent)
    _cache_after_commit(uow, redis, agent)
    return agent


async def refresh_capabilities(
    uow: UnitOfWork, redis: Redis, box: SecretBox, policy: EgressPolicy, agent_id: uuid.UUID | None
) -> MCPAgent:
    """Discover with the agent as read (no lock, no transaction), then store what it answered unless
    its endpoint or key changed meanwhile."""
    seen = await _snapshot(uow.db, agent_id)
    await uow.release()
    discovery = await _discover(seen, box, policy)
    agent = await _live(uow.db, agent_id)
    if reach_of(agent, box) != reach_of(seen, box):
        raise Rejected([AGENT_CHANGED])
    agent.capabilities, agent.version = discovery.tools, (discovery.version or agent.version)
    agent.updated_at = database_now()
    await uow.db.flush()
    await uow.db.refresh(agent)
    _cache_after_commit(uow, redis, agent)
    return agent


async def delete_agent(uow: UnitOfWork, redis: Redis, agent_id: uuid.UUID | None) -> MCPAgent:
    """Soft delete: its name is free for a new agent; it can be restored while no live agent took the name."""
    agent = await agent_lifecycle.delete(uow.db, agent_id) if agent_id is not None else None
    if agent is None:
        raise Rejected([AGENT_NOT_FOUND])
    uow.after_commit(lambda: _forget_capabilities(redis, agent.id))
    return agent


async def restore_agent(uow: UnitOfWork, redis: Redis, agent_id: uuid.UUID | None) -> MCPAgent:
    """A deleted agent back in the registry, with the status it had."""
    if agent_id is None:
        raise Rejected([AGENT_NOT_FOUND])
    try:
        async with uow.db.begin_nested():
            agent = await agent_lifecycle.restore(uow.db, agent_id)
    except IntegrityError:  # the partial unique index: a live agent has its name
        raise Rejected(
            [
                Problem(
                    "input.agentId", ErrorCode.ALREADY_EXISTS, "A live agent has this agent's name; rename one first."
                )
            ]
        ) from None
    if agent is None:
        live = await uow.db.get(MCPAgent, agent_id)
        if live is None:
            raise Rejected([AGENT_NOT_FOUND])
        raise Rejected([Problem("input.agentId", ErrorCode.INVALID_STATE, "The agent is not deleted.")])
    _cache_after_commit(uow, redis, agent)
    return agent


async def set_active(uow: UnitOfWork, agent_id: uuid.UUID | None, *, active: bool) -> MCPAgent:
    """An operator puts the agent out of use (INACTIVE: no new tasks, no health checks) or back (ACTIVE)."""
    if agent_id is None:
        raise Rejected([AGENT_NOT_FOUND])
    name = agent_lifecycle.AgentMove.ACTIVATE if active else agent_lifecycle.AgentMove.DEACTIVATE
    agent = await agent_lifecycle.move(uow.db, name, agent_id)
    if agent is not None:
        return agent
    current = await _readable(uow.db, agent_id, lock=False)  # NOT_FOUND when missing or deleted
    raise Rejected([Problem("input.agentId", ErrorCode.INVALID_STATE, f"The agent is already {current.status}.")])


async def _forget_capabilities(redis: Redis, agent_id: uuid.UUID) -> None:
    with contextlib.suppress(RedisError, OSError):  # expires within its TTL; runTask checks deleted_at
        await redis.delete(keys.agent_capabilities(agent_id))


async def _answers(agent: AgentSnapshot, box: SecretBox, policy: EgressPolicy) -> bool:
    """One health probe: the health URL when set, else an MCP ping. Any failure to answer is a failed check."""
    try:
        link = link_for(agent, box, policy)
        if agent.health_check_url:
            # The credentials reach the health URL only when it is on the endpoint's origin.
            async with guarded_client(policy, timeout=link.timeout_seconds, auth=link.credentials) as http:
                response = await http.get(agent.health_check_url)
            return 200 <= response.status_code < 300
        await mcp.ping(link)
    except Exception:
        return False
    return True


async def check_health(
    uow: UnitOfWork, redis: Redis, box: SecretBox, policy: EgressPolicy, agent_id: uuid.UUID | None
) -> MCPAgent:
    """Probe the agent as read (no lock, no transaction), then record the outcome unless the agent was
    deleted or its endpoint, health URL or key changed meanwhile; unhealthy after consecutive failures."""
    seen = await _snapshot(uow.db, agent_id)
    await uow.release()
    healthy = await _answers(seen, box, policy)
    agent = await _live(uow.db, agent_id)
    if (reach_of(agent, box), agent.health_check_url) != (reach_of(seen, box), seen.health_check_url):
        raise Rejected([AGENT_CHANGED])
    with contextlib.suppress(CredentialUnavailable):  # then the probe failed already, and says why
        stored = config_of(agent)
        if (updated := resealed(stored, box, agent.id, agent.endpoint)) is not stored:
            agent.configuration = updated.dump()
    # Counted only once the outcome is known to be the current agent's (a stale one is not counted).
    failures = await consecutive_failures(redis, agent.id, healthy)
    if healthy:
        agent.health_status = HealthStatus.HEALTHY
    elif failures >= UNHEALTHY_AFTER_FAILURES:
        agent.health_status = HealthStatus.UNHEALTHY
    agent.last_health_check = database_now()
    await uow.db.flush()
    # An active agent that stopped answering is in ERROR (runTask refuses it) until it answers again; an
    # agent an operator set INACTIVE stays so.
    if healthy:
        await agent_lifecycle.move(uow.db, agent_lifecycle.AgentMove.RECOVER, agent.id)
    elif failures >= UNHEALTHY_AFTER_FAILURES:
        await agent_lifecycle.move(uow.db, agent_lifecycle.AgentMove.FAIL, agent.id)
    await uow.db.refresh(agent)
    return agent
