"""What an operator gives for an MCP agent (`AgentSettings`), its checks (ranges, URLs through the egress
guard) and how it becomes the stored, typed `AgentConfig` with its API key sealed. The registry's use cases
(resolvers/agents.py) call these before they touch a row."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from models import MCPAgent
from models.agents import (
    RATE_LIMIT_REQUESTS_MAX,
    RATE_LIMIT_WINDOW_MAX,
    RETRIES_MAX,
    TIMEOUT_MS_MAX,
    TIMEOUT_MS_MIN,
    AgentAuth,
    AgentConfig,
    AuthenticationType,
    RateLimitConfig,
    SealedKey,
)
from models.json_document import unreadable_keys
from resolvers.agent_links import (
    config_of,
    seal_key,
)
from resolvers.problems import ErrorCode, Problem
from resolvers.validation import check_length, collect
from services.credentials import origin_of
from services.crypto import SecretBox
from services.egress import EgressPolicy, EgressRefused

log = logging.getLogger("gateway.agents")


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
    # `oauth` with the client-credentials grant: the api key is then the client secret.
    token_url: str | None = None
    client_id: str | None = None
    scope: str | None = None


def check_ranges(data: AgentSettings) -> list[Problem]:
    problems: list[Problem] = []
    if data.timeout is not None and not TIMEOUT_MS_MIN <= data.timeout <= TIMEOUT_MS_MAX:
        problems.append(
            Problem(
                "input.configuration.timeout",
                ErrorCode.INVALID,
                f"The timeout is in milliseconds, from {TIMEOUT_MS_MIN} to {TIMEOUT_MS_MAX}.",
            )
        )
    if data.retries is not None and not 0 <= data.retries <= RETRIES_MAX:
        problems.append(
            Problem("input.configuration.retries", ErrorCode.INVALID, f"Retries go from 0 to {RETRIES_MAX}.")
        )
    if data.rate_limit is not None:
        if not 1 <= data.rate_limit.requests <= RATE_LIMIT_REQUESTS_MAX:
            problems.append(
                Problem(
                    "input.configuration.rateLimit.requests",
                    ErrorCode.INVALID,
                    f"Allow from 1 to {RATE_LIMIT_REQUESTS_MAX} requests per window.",
                )
            )
        if not 1 <= data.rate_limit.window <= RATE_LIMIT_WINDOW_MAX:
            problems.append(
                Problem(
                    "input.configuration.rateLimit.window",
                    ErrorCode.INVALID,
                    f"The window is in seconds, from 1 to {RATE_LIMIT_WINDOW_MAX}.",
                )
            )
    if data.api_key is not None:
        problems += collect(
            check_length(
                "input.configuration.authentication.apiKey", data.api_key, minimum=1, maximum=4096, label="The API key"
            )
        )
    if data.token_url and not data.client_id:
        problems.append(
            Problem(
                "input.configuration.authentication.clientId",
                ErrorCode.REQUIRED,
                "The client-credentials grant needs the client id.",
            )
        )
    if data.token_url and data.auth_type is not AuthenticationType.OAUTH:
        problems.append(
            Problem("input.configuration.authentication.tokenUrl", ErrorCode.INVALID, "A token URL is for OAUTH only.")
        )
    if data.api_key_header is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", data.api_key_header):
        problems.append(
            Problem("input.configuration.authentication.header", ErrorCode.INVALID, "Use a plain HTTP header name.")
        )
    return problems


async def check_urls(data: AgentSettings, policy: EgressPolicy) -> list[Problem]:
    problems: list[Problem] = []
    urls = (
        ("input.endpoint", data.endpoint),
        ("input.healthCheckUrl", data.health_check_url),
        ("input.configuration.authentication.tokenUrl", data.token_url),
    )
    for field, url in urls:
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


def configuration(
    stored: AgentConfig, data: AgentSettings, box: SecretBox, *, agent_id: uuid.UUID, endpoint: str
) -> AgentConfig:
    """The stored configuration with the update's settings (checked by `check_ranges` first)."""
    changes: dict[str, Any] = {}
    if data.timeout is not None:
        changes["timeout"] = data.timeout
    if data.retries is not None:
        changes["retries"] = data.retries
    if data.rate_limit is not None:
        changes["rate_limit"] = RateLimitConfig(requests=data.rate_limit.requests, window=data.rate_limit.window)
    elif data.clear_rate_limit:
        changes["rate_limit"] = None
    if data.auth_type is not None:
        key: SealedKey | None = None
        if data.auth_type is not AuthenticationType.NONE:
            previous = stored.authentication.config or SealedKey()
            header = data.api_key_header or previous.header
            key = (
                seal_key(box, agent_id, origin_of(endpoint), data.api_key, header=header)
                if data.api_key
                else SealedKey(header=header, secret=previous.secret, origin=previous.origin)
            )
            if data.auth_type is AuthenticationType.OAUTH:
                # Client credentials (none of them secret): kept when an update does not give them again.
                key = key.model_copy(
                    update={
                        "token_url": data.token_url if data.token_url is not None else previous.token_url,
                        "client_id": data.client_id if data.client_id is not None else previous.client_id,
                        "scope": data.scope if data.scope is not None else previous.scope,
                    }
                )
        changes["authentication"] = AgentAuth(type=data.auth_type, config=key)
    return stored.model_copy(update=changes)


def unreadable(error: ValueError) -> Problem:
    keys_named = ", ".join(unreadable_keys(error)) or "not an object"
    return Problem(
        "input.agentId",
        ErrorCode.INVALID_STATE,
        f"The agent's stored configuration does not read ({keys_named}); an operator must set it with updateAgent.",
    )


def config_to_update(agent: MCPAgent) -> AgentConfig:
    """The stored configuration an update starts from; one that does not read (written by hand in the
    database) is replaced by the defaults and what the update gives, so that updateAgent can repair it."""
    try:
        return config_of(agent)
    except ValueError as error:
        log.warning("agent %s: stored configuration unreadable (%s), replaced", agent.id, unreadable_keys(error))
        return AgentConfig()
