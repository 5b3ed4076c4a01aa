"""How the gateway reaches an agent: API keys sealed to the agent and its endpoint's origin, the link a
call goes over (endpoint, credentials, timeout), and what a call depended on, so that an answer gathered
without a lock is stored only while the agent is still what was called."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import MCPAgent
from models.agents import AuthenticationType
from services import mcp
from services.credentials import OriginBoundHeaders, origin_of
from services.crypto import DecryptionError, SecretBox
from services.egress import EgressPolicy

DEFAULT_TIMEOUT_MS = 30_000
LEGACY_SEAL_CONTEXT = "agent"  # associated data of keys stored before they were bound to agent and origin


class CredentialUnavailable(Exception):
    """The stored key does not decrypt for this agent and endpoint (copied, or kept across a move)."""


@dataclass(frozen=True)
class AgentSnapshot:
    """An agent as read without a lock, to call its peer with (no transaction stays open during the call)."""

    id: uuid.UUID
    endpoint: str
    health_check_url: str | None
    configuration: dict[str, Any]
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


def _seal_context(agent_id: uuid.UUID, origin: str) -> str:
    """The ciphertext's associated data: a key sealed for one agent and origin opens for no other (a
    ciphertext copied to another row, or kept across an endpoint's move, fails to decrypt)."""
    return f"mcp-agent:{agent_id}:{origin}"


def seal_key(box: SecretBox, agent_id: uuid.UUID, origin: str, key: str) -> dict[str, str]:
    return {"secret": box.encrypt(key, context=_seal_context(agent_id, origin)), "origin": origin}


def unseal_key(box: SecretBox, agent_id: uuid.UUID, endpoint: str, sealed: dict[str, Any]) -> str:
    """The key, for the agent's current endpoint. Secrets stored before origin binding (no `origin` beside
    them) were sealed with the fixed context "agent": they are read as bound to the current endpoint, as
    they were used, and sealed again on the agent's next update or health check (docs/decisions.md)."""
    try:
        origin = origin_of(endpoint)
        legacy = "origin" not in sealed
        return box.decrypt(
            str(sealed["secret"]), context=LEGACY_SEAL_CONTEXT if legacy else _seal_context(agent_id, origin)
        )
    except (DecryptionError, ValueError, KeyError):
        raise CredentialUnavailable(
            "The agent's stored key cannot be used here; an operator must set it again with updateAgent."
        ) from None


def auth_config(config: dict[str, Any]) -> dict[str, Any]:
    auth = config.get("authentication") or {}
    return dict(auth.get("config") or {}) if auth.get("type") != AuthenticationType.NONE else {}


def reseal_legacy(agent: MCPAgent, box: SecretBox) -> None:
    """Seal a secret of the old format again, bound to the agent and its endpoint's origin."""
    config = dict(agent.configuration or {})
    sealed = auth_config(config)
    if not sealed.get("secret") or "origin" in sealed:
        return
    key = unseal_key(box, agent.id, agent.endpoint, sealed)
    auth = dict(config["authentication"])
    auth["config"] = {**sealed, **seal_key(box, agent.id, origin_of(agent.endpoint), key)}
    agent.configuration = {**config, "authentication": auth}


def config_of(agent: Any) -> dict[str, Any]:
    return agent.configuration if isinstance(agent.configuration, dict) else json.loads(agent.configuration or "{}")


def credentials_of(agent: Any, box: SecretBox) -> OriginBoundHeaders | None:
    config = config_of(agent)
    auth = config.get("authentication") or {}
    sealed = auth.get("config") or {}
    if auth.get("type") not in (AuthenticationType.APIKEY, AuthenticationType.OAUTH) or not sealed.get("secret"):
        return None
    header = sealed.get("header") or "Authorization"
    value = unseal_key(box, agent.id, agent.endpoint, sealed)
    return OriginBoundHeaders(
        origin_of(agent.endpoint), {header: f"Bearer {value}" if header.lower() == "authorization" else value}
    )


def link_for(agent: Any, box: SecretBox, policy: EgressPolicy) -> mcp.AgentLink:
    """How to reach an agent: its endpoint, its credentials (bound to the endpoint's origin), the egress
    guard, its timeout. Raises CredentialUnavailable when the stored key does not open for this agent
    and endpoint."""
    credentials = credentials_of(agent, box)
    timeout_ms = config_of(agent).get("timeout") or DEFAULT_TIMEOUT_MS
    return mcp.AgentLink(
        endpoint=agent.endpoint, credentials=credentials, policy=policy, timeout_seconds=timeout_ms / 1000
    )


def reach_of(agent: MCPAgent | AgentSnapshot, box: SecretBox) -> tuple[object, ...]:
    """Where a call to the agent goes and the key it carries, as sent rather than as sealed (a legacy key
    sealed again is the same key): an answer is the agent's as long as this has not changed."""
    try:
        credentials = credentials_of(agent, box)
    except CredentialUnavailable:
        return agent.endpoint, "unusable key", json.dumps(auth_config(config_of(agent)), sort_keys=True)
    return agent.endpoint, None if credentials is None else (credentials.origin, credentials.headers)
