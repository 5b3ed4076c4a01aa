"""The MCP agent registry: register, update, delete, rediscover, check health. Operators only (the
graph declares it); API keys are encrypted at rest and never returned."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import MCPAgent
from models.agents import AuthenticationType, HealthStatus
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.validation import check_length, collect
from services import mcp
from services.crypto import SecretBox
from services.egress import EgressPolicy, EgressRefused, guarded_client

CAPABILITIES_TTL_SECONDS = 6 * 60 * 60  # the seed's "MCP agent capabilities: Redis with 6h TTL"
UNHEALTHY_AFTER_FAILURES = 3
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
AGENT_NOT_FOUND = Problem("input.agentId", ErrorCode.NOT_FOUND, "No such agent.")
DEFAULT_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window: int


@dataclass(frozen=True)
class AgentSettings:
    """The writable part of an agent. None means "not given" (keep, or the default when new)."""

    name: str | None = None
    endpoint: str | None = None
    description: str | None = None
    health_check_url: str | None = None
    timeout: int | None = None
    retries: int | None = None
    rate_limit: RateLimit | None = None
    clear_rate_limit: bool = False
    auth_type: AuthenticationType | None = None
    api_key: str | None = None
    api_key_header: str | None = None


def _check_ranges(data: AgentSettings) -> list[Problem]:
    problems: list[Problem] = []
    if data.timeout is not None and not 100 <= data.timeout <= 300_000:
        problems.append(Problem("input.configuration.timeout", ErrorCode.INVALID,
                                "The timeout is in milliseconds, from 100 to 300000."))
    if data.retries is not None and not 0 <= data.retries <= 10:
        problems.append(Problem("input.configuration.retries", ErrorCode.INVALID, "Retries go from 0 to 10."))
    if data.rate_limit is not None:
        if not 1 <= data.rate_limit.requests <= 100_000:
            problems.append(Problem("input.configuration.rateLimit.requests", ErrorCode.INVALID,
                                    "Allow from 1 to 100000 requests per window."))
        if not 1 <= data.rate_limit.window <= 86_400:
            problems.append(Problem("input.configuration.rateLimit.window", ErrorCode.INVALID,
                                    "The window is in seconds, from 1 to 86400."))
    if data.api_key is not None:
        problems += collect(check_length("input.configuration.authentication.apiKey", data.api_key,
                                         minimum=1, maximum=4096, label="The API key"))
    if data.api_key_header is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", data.api_key_header):
        problems.append(Problem("input.configuration.authentication.header", ErrorCode.INVALID,
                                "Use a plain HTTP header name."))
    return problems


async def _check_urls(data: AgentSettings, policy: EgressPolicy) -> list[Problem]:
    problems: list[Problem] = []
    for field, url in (("input.endpoint", data.endpoint), ("input.healthCheckUrl", data.health_check_url)):
        if not url:
            continue
        if len(url) > 500:
            problems.append(Problem(field, ErrorCode.TOO_LONG, "URLs can have at most 500 characters."))
            continue
        try:
            await policy.check_url(url)
        except EgressRefused as refused:
            problems.append(Problem(field, ErrorCode.UNSAFE_URL, f"The gateway may not connect there: {refused}."))
    return problems


def _configuration(stored: dict[str, Any], data: AgentSettings, box: SecretBox) -> dict[str, Any]:
    config = dict(stored)
    if data.timeout is not None or "timeout" not in config:
        config["timeout"] = data.timeout if data.timeout is not None else DEFAULT_TIMEOUT_MS
    if data.retries is not None or "retries" not in config:
        config["retries"] = data.retries if data.retries is not None else 0
    if data.rate_limit is not None:
        config["rateLimit"] = {"requests": data.rate_limit.requests, "window": data.rate_limit.window}
    elif data.clear_rate_limit:
        config.pop("rateLimit", None)
    if data.auth_type is not None:
        auth: dict[str, Any] = {"type": data.auth_type.value}
        if data.auth_type is not AuthenticationType.NONE:
            previous = (stored.get("authentication") or {}).get("config") or {}
            secret = box.encrypt(data.api_key, context="agent") if data.api_key else previous.get("secret")
            header = data.api_key_header or previous.get("header") or "Authorization"
            auth["config"] = {"header": header, "secret": secret}
        config["authentication"] = auth
    config.setdefault("authentication", {"type": AuthenticationType.NONE.value})
    return config


def link_for(agent: Any, box: SecretBox, policy: EgressPolicy) -> mcp.AgentLink:
    """How to reach an agent: its endpoint, decrypted credentials, the egress guard, its timeout."""
    config = agent.configuration if isinstance(agent.configuration, dict) else json.loads(agent.configuration or "{}")
    headers: dict[str, str] = {}
    auth = config.get("authentication") or {}
    secret = (auth.get("config") or {}).get("secret")
    if auth.get("type") in (AuthenticationType.APIKEY, AuthenticationType.OAUTH) and secret:
        header = auth["config"].get("header") or "Authorization"
        value = box.decrypt(secret, context="agent")
        headers[header] = f"Bearer {value}" if header.lower() == "authorization" else value
    timeout_ms = config.get("timeout") or DEFAULT_TIMEOUT_MS
    return mcp.AgentLink(endpoint=agent.endpoint, headers=headers, policy=policy, timeout_seconds=timeout_ms / 1000)


async def cache_capabilities(redis: Redis, agent_id: uuid.UUID, capabilities: list[dict[str, Any]]) -> None:
    try:
        await redis.set(f"agent:capabilities:{agent_id}", json.dumps(capabilities), ex=CAPABILITIES_TTL_SECONDS)
    except (RedisError, OSError):
        pass  # the table holds them too; the cache only saves a read


async def capabilities_of(redis: Redis, session: AsyncSession, agent_id: uuid.UUID) -> list[dict[str, Any]] | None:
    """The agent's tools: from the cache, else from the table (and cached again); None: no such agent."""
    try:
        cached = await redis.get(f"agent:capabilities:{agent_id}")
    except (RedisError, OSError):
        cached = None
    if cached is not None:
        return json.loads(cached)  # type: ignore[no-any-return]
    agent = await session.get(MCPAgent, agent_id)
    if agent is None or agent.deleted_at is not None:
        return None
    await cache_capabilities(redis, agent_id, agent.capabilities or [])
    return agent.capabilities or []


async def _discover(agent: MCPAgent, box: SecretBox, policy: EgressPolicy) -> mcp.Discovery:
    try:
        return await mcp.discover(link_for(agent, box, policy))
    except mcp.AgentUnreachable as error:
        raise Rejected([Problem("input.endpoint", ErrorCode.UNREACHABLE,
                                f"The agent did not answer as an MCP server ({error}).")]) from None


async def register_agent(session: AsyncSession, redis: Redis, box: SecretBox, policy: EgressPolicy,
                         data: AgentSettings) -> MCPAgent:
    name = (data.name or "").strip()
    problems = collect(check_length("input.name", name, minimum=1, maximum=100, label="The name"))
    if name and not problems and not NAME_RE.match(name):
        problems.append(Problem("input.name", ErrorCode.INVALID, "Use letters, digits, '.', '_' and '-'."))
    if not data.endpoint:
        problems.append(Problem("input.endpoint", ErrorCode.REQUIRED, "The MCP endpoint URL is required."))
    if data.auth_type in (AuthenticationType.APIKEY, AuthenticationType.OAUTH) and not data.api_key:
        problems.append(Problem("input.configuration.authentication.apiKey", ErrorCode.REQUIRED,
                                "This authentication needs a key or token."))
    problems += _check_ranges(data) + await _check_urls(data, policy)
    if name and (await session.execute(select(func.count()).where(MCPAgent.name == name))).scalar_one():
        problems.append(Problem("input.name", ErrorCode.ALREADY_EXISTS, "An agent with this name exists."))
    if problems:
        raise Rejected(problems)
    agent = MCPAgent(name=name, endpoint=data.endpoint, description=data.description,
                     health_check_url=data.health_check_url or None,
                     configuration=_configuration({}, data, box))
    discovery = await _discover(agent, box, policy)
    agent.capabilities, agent.version = discovery.tools, (discovery.version or None)
    if agent.version and len(agent.version) > 20:
        agent.version = agent.version[:20]
    session.add(agent)
    try:
        await session.flush()
    except IntegrityError:
        raise Rejected([Problem("input.name", ErrorCode.ALREADY_EXISTS, "An agent with this name exists.")]) from None
    await session.refresh(agent)
    await cache_capabilities(redis, agent.id, agent.capabilities)
    return agent


async def _live(session: AsyncSession, agent_id: uuid.UUID | None) -> MCPAgent:
    agent = await session.get(MCPAgent, agent_id, with_for_update=True) if agent_id else None
    if agent is None or agent.deleted_at is not None:
        raise Rejected([AGENT_NOT_FOUND])
    return agent


async def update_agent(session: AsyncSession, redis: Redis, box: SecretBox, policy: EgressPolicy,
                       agent_id: uuid.UUID | None, data: AgentSettings) -> MCPAgent:
    problems = _check_ranges(data) + await _check_urls(data, policy)
    if data.name is not None:
        problems += collect(check_length("input.name", data.name.strip(), minimum=1, maximum=100, label="The name"))
    if problems:
        raise Rejected(problems)
    agent = await _live(session, agent_id)
    if data.name is not None and data.name.strip() != agent.name:
        taken = (await session.execute(select(func.count()).where(MCPAgent.name == data.name.strip()))).scalar_one()
        if taken:
            raise Rejected([Problem("input.name", ErrorCode.ALREADY_EXISTS, "An agent with this name exists.")])
        agent.name = data.name.strip()
    reconnect = data.endpoint is not None or data.auth_type is not None
    if data.endpoint is not None:
        agent.endpoint = data.endpoint
    if data.description is not None:
        agent.description = data.description or None
    if data.health_check_url is not None:
        agent.health_check_url = data.health_check_url or None
    agent.configuration = _configuration(agent.configuration or {}, data, box)
    if reconnect:
        discovery = await _discover(agent, box, policy)
        agent.capabilities, agent.version = discovery.tools, (discovery.version or None)
    agent.updated_at = func.now()
    await session.flush()
    await session.refresh(agent)
    await cache_capabilities(redis, agent.id, agent.capabilities)
    return agent


async def refresh_capabilities(session: AsyncSession, redis: Redis, box: SecretBox, policy: EgressPolicy,
                               agent_id: uuid.UUID | None) -> MCPAgent:
    agent = await _live(session, agent_id)
    discovery = await _discover(agent, box, policy)
    agent.capabilities, agent.version = discovery.tools, (discovery.version or agent.version)
    agent.updated_at = func.now()
    await session.flush()
    await session.refresh(agent)
    await cache_capabilities(redis, agent.id, agent.capabilities)
    return agent


async def delete_agent(session: AsyncSession, redis: Redis, agent_id: uuid.UUID | None) -> MCPAgent:
    agent = await _live(session, agent_id)
    agent.deleted_at = func.now()
    agent.updated_at = func.now()
    await session.flush()
    await session.refresh(agent)
    try:
        await redis.delete(f"agent:capabilities:{agent.id}")
    except (RedisError, OSError):
        pass  # expires within its TTL; runTask also checks the table's deleted_at
    return agent


async def check_health(session: AsyncSession, redis: Redis, box: SecretBox, policy: EgressPolicy,
                       agent_id: uuid.UUID | None) -> MCPAgent:
    """Ping now (the health URL when set, else an MCP ping); unhealthy after consecutive failures."""
    agent = await _live(session, agent_id)
    link = link_for(agent, box, policy)
    healthy = True
    try:
        if agent.health_check_url:
            async with guarded_client(policy, timeout=link.timeout_seconds, headers=link.headers) as http:
                response = await http.get(agent.health_check_url)
            healthy = 200 <= response.status_code < 300
        else:
            await mcp.ping(link)
    except Exception:  # noqa: BLE001  (any failure to answer is a failed check)
        healthy = False
    failures_key = f"agent:health:failures:{agent.id}"
    try:
        failures = 0 if healthy else int(await redis.incr(failures_key))
        if healthy:
            await redis.delete(failures_key)
        else:
            await redis.expire(failures_key, 24 * 60 * 60)
    except (RedisError, OSError):
        failures = UNHEALTHY_AFTER_FAILURES if not healthy else 0
    if healthy:
        agent.health_status = HealthStatus.HEALTHY
    elif failures >= UNHEALTHY_AFTER_FAILURES:
        agent.health_status = HealthStatus.UNHEALTHY
    agent.last_health_check = func.now()
    await session.flush()
    await session.refresh(agent)
    return agent
