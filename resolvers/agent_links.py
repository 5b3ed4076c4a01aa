"""How the gateway reaches an agent: API keys sealed to the agent and its endpoint's origin, the link a
call goes over (endpoint, credentials, timeout), and what a call depended on, so that an answer gathered
without a lock is stored only while the agent is still what was called."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from models import MCPAgent
from models.agents import DEFAULT_KEY_HEADER, AgentConfig, AuthenticationType, SealedKey
from services import mcp
from services.credentials import ClientCredentialsAuth, OriginBoundHeaders, origin_of
from services.crypto import DecryptionError, SecretBox
from services.egress import EgressPolicy

LEGACY_SEAL_CONTEXT = "agent"  # associated data of keys stored before they were bound to agent and origin


class CredentialUnavailable(Exception):
    """The stored key does not decrypt for this agent and endpoint (copied, or kept across a move)."""


@dataclass(frozen=True)
class AgentSnapshot:
    """An agent as read without a lock, to call its peer with (no transaction stays open during the call)."""

    id: uuid.UUID
    endpoint: str
    health_check_url: str | None
    configuration: AgentConfig
    updated_at: datetime

    @classmethod
    def of(cls, agent: MCPAgent) -> AgentSnapshot:
        return cls(
            id=agent.id,
            endpoint=agent.endpoint,
            health_check_url=agent.health_check_url,
            configuration=config_of(agent),
            updated_at=agent.updated_at,
        )


def config_of(agent: MCPAgent | AgentSnapshot) -> AgentConfig:
    """The agent's configuration; ValueError when the stored one does not read."""
    if isinstance(agent, AgentSnapshot):
        return agent.configuration
    return AgentConfig.parse(agent.configuration)


def _seal_context(agent_id: uuid.UUID, origin: str) -> str:
    """The ciphertext's associated data: a key sealed for one agent and origin opens for no other (a
    ciphertext copied to another row, or kept across an endpoint's move, fails to decrypt)."""
    return f"mcp-agent:{agent_id}:{origin}"


def seal_key(
    box: SecretBox, agent_id: uuid.UUID, origin: str, key: str, *, header: str = DEFAULT_KEY_HEADER
) -> SealedKey:
    return SealedKey(header=header, secret=box.encrypt(key, context=_seal_context(agent_id, origin)), origin=origin)


def unseal_key(box: SecretBox, agent_id: uuid.UUID, endpoint: str, sealed: SealedKey) -> str:
    """The key, for the agent's current endpoint. Secrets stored before origin binding (no `origin` beside
    them) were sealed with the fixed context "agent": they are read as bound to the current endpoint, as
    they were used, and sealed again on the agent's next update or health check (docs/decisions.md)."""
    try:
        if sealed.secret is None:
            raise KeyError("secret")
        origin = origin_of(endpoint)
        legacy = sealed.origin is None
        return box.decrypt(sealed.secret, context=LEGACY_SEAL_CONTEXT if legacy else _seal_context(agent_id, origin))
    except (DecryptionError, ValueError, KeyError):
        raise CredentialUnavailable(
            "The agent's stored key cannot be used here; an operator must set it again with updateAgent."
        ) from None


def resealed(config: AgentConfig, box: SecretBox, agent_id: uuid.UUID, endpoint: str) -> AgentConfig:
    """The configuration with a secret of the old format sealed again, bound to the agent and its
    endpoint's origin (unchanged when there is none)."""
    sealed = config.sealed_key
    if sealed is None or not sealed.secret or sealed.origin is not None:
        return config
    fresh = seal_key(box, agent_id, origin_of(endpoint), unseal_key(box, agent_id, endpoint, sealed))
    key = sealed.model_copy(update={"secret": fresh.secret, "origin": fresh.origin})
    return config.model_copy(update={"authentication": config.authentication.model_copy(update={"config": key})})


def credentials_of(
    agent: MCPAgent | AgentSnapshot, box: SecretBox, policy: EgressPolicy | None = None
) -> OriginBoundHeaders | None:
    sealed = config_of(agent).sealed_key
    if sealed is None or not sealed.secret:
        return None
    value = unseal_key(box, agent.id, agent.endpoint, sealed)
    if config_of(agent).authentication.type is AuthenticationType.OAUTH and sealed.token_url:
        # The sealed secret is the client secret: tokens come from the client-credentials grant.
        return ClientCredentialsAuth(
            origin_of(agent.endpoint),
            token_url=sealed.token_url,
            client_id=sealed.client_id or "",
            client_secret=value,
            scope=sealed.scope,
            policy=policy or EgressPolicy(),
        )
    header = sealed.header
    return OriginBoundHeaders(
        origin_of(agent.endpoint), {header: f"Bearer {value}" if header.lower() == "authorization" else value}
    )


def link_for(agent: MCPAgent | AgentSnapshot, box: SecretBox, policy: EgressPolicy) -> mcp.AgentLink:
    """How to reach an agent: its endpoint, its credentials (bound to the endpoint's origin), the egress
    guard, its timeout. Raises CredentialUnavailable when the stored key does not open for this agent
    and endpoint, ValueError when its stored configuration does not read."""
    credentials = credentials_of(agent, box, policy)
    return mcp.AgentLink(
        endpoint=agent.endpoint,
        credentials=credentials,
        policy=policy,
        timeout_seconds=config_of(agent).timeout_seconds,
    )


def reach_of(agent: MCPAgent | AgentSnapshot, box: SecretBox) -> tuple[object, ...]:
    """Where a call to the agent goes and the key it carries, as sent rather than as sealed (a legacy key
    sealed again is the same key): an answer is the agent's as long as this has not changed."""
    try:
        credentials = credentials_of(agent, box)
    except CredentialUnavailable:
        sealed = config_of(agent).sealed_key
        return agent.endpoint, "unusable key", json.dumps(sealed.dump() if sealed else {}, sort_keys=True)
    if credentials is None:
        return agent.endpoint, None
    return agent.endpoint, (credentials.origin, credentials.headers, getattr(credentials, "reach", None))
