"""mcp_agents: the shared registry of Model Context Protocol agents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field as DocumentField
from sqlalchemy import Index, text
from sqlmodel import Field

from models.base import Keyed, jsonb, text_col, tstz, utcnow, varchar
from models.json_document import JsonDocument

DEFAULT_TIMEOUT_MS = 30_000
# Bounds of the configuration, checked on input (with a problem per field) and again when it is read.
TIMEOUT_MS_MIN, TIMEOUT_MS_MAX = 100, 300_000
RETRIES_MAX = 10
RATE_LIMIT_REQUESTS_MAX = 100_000
RATE_LIMIT_WINDOW_MAX = 86_400  # seconds
DEFAULT_KEY_HEADER = "Authorization"


class AgentStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    ERROR = "error"


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class AuthenticationType(StrEnum):
    NONE = "none"
    APIKEY = "apikey"
    OAUTH = "oauth"


class RateLimitConfig(JsonDocument):
    requests: int = DocumentField(ge=1, le=RATE_LIMIT_REQUESTS_MAX)
    window: int = DocumentField(ge=1, le=RATE_LIMIT_WINDOW_MAX, description="Seconds.")


class SealedKey(JsonDocument):
    """An API key or token encrypted for one agent and its endpoint's origin (resolvers/agent_links.py)."""

    header: str = DEFAULT_KEY_HEADER
    secret: str | None = None
    # None: sealed before keys were bound to an origin (read as bound to the agent's current endpoint).
    origin: str | None = None
    # `oauth` with the client-credentials grant: the secret is the client secret (none of these is secret).
    token_url: str | None = None
    client_id: str | None = None
    scope: str | None = None


class AgentAuth(JsonDocument):
    type: AuthenticationType = AuthenticationType.NONE
    config: SealedKey | None = None


class AgentConfig(JsonDocument):
    """`mcp_agents.configuration`: `{timeout (ms), retries, rateLimit {requests, window (s)}, authentication
    {type, config}}`. Missing keys take the defaults here and nowhere else."""

    DUMP_DEFAULTS = True

    timeout: int = DocumentField(default=DEFAULT_TIMEOUT_MS, ge=TIMEOUT_MS_MIN, le=TIMEOUT_MS_MAX)
    retries: int = DocumentField(default=0, ge=0, le=RETRIES_MAX, description="Extra attempts after the first.")
    rate_limit: RateLimitConfig | None = None
    authentication: AgentAuth = DocumentField(default_factory=AgentAuth)

    @property
    def timeout_seconds(self) -> float:
        return self.timeout / 1000

    @property
    def attempts(self) -> int:
        return self.retries + 1

    @property
    def sealed_key(self) -> SealedKey | None:
        """The stored credentials, unless the agent takes none."""
        if self.authentication.type is AuthenticationType.NONE:
            return None
        return self.authentication.config


class MCPAgent(Keyed, table=True):
    __tablename__ = "mcp_agents"
    __table_args__ = (
        Index("idx_mcp_agents_capabilities", "capabilities", postgresql_using="gin"),
        # The seed's UNIQUE(name), for live agents only (migration lif2): a deleted agent's name is free.
        Index("mcp_agents_name_live_key", "name", unique=True, postgresql_where=text("deleted_at IS NULL")),
    )

    name: str = Field(sa_column=varchar("name", 100, nullable=False, index=True))
    description: str | None = Field(default=None, sa_column=text_col("description"))
    endpoint: str = Field(sa_column=varchar("endpoint", 500, nullable=False))
    capabilities: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=jsonb("capabilities", default="'[]'::jsonb", nullable=False)
    )
    configuration: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb("configuration"))
    status: str = Field(default=AgentStatus.ACTIVE, sa_column=varchar("status", 20, default="active", index=True))
    version: str | None = Field(default=None, sa_column=varchar("version", 20))
    health_check_url: str | None = Field(default=None, sa_column=varchar("health_check_url", 500))
    last_health_check: datetime | None = Field(default=None, sa_column=tstz("last_health_check"))
    health_status: str = Field(default=HealthStatus.UNKNOWN, sa_column=varchar("health_status", 20, default="unknown"))
    created_at: datetime = Field(default_factory=utcnow, sa_column=tstz("created_at", default_now=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=tstz("updated_at", default_now=True))
    deleted_at: datetime | None = Field(default=None, sa_column=tstz("deleted_at"))
