"""integrations: connections to outside applications and their (encrypted) OAuth tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from models.base import Keyed, integer, jsonb, owner_fk, text_array, text_col, tstz, utcnow, varchar


class IntegrationProvider(StrEnum):
    GMAIL = "gmail"
    GOOGLE_CALENDAR = "google_calendar"
    HUBSPOT = "hubspot"
    OUTLOOK = "outlook"
    SLACK = "slack"


class IntegrationStatus(StrEnum):
    CONNECTED = "connected"
    EXPIRED = "expired"
    ERROR = "error"
    DISCONNECTED = "disconnected"


class Integration(Keyed, table=True):
    __tablename__ = "integrations"
    __table_args__ = (UniqueConstraint("user_id", "provider"),)

    user_id: uuid.UUID = Field(sa_column=owner_fk("users.id", ondelete="CASCADE", name="user_id", index=True))
    provider: str = Field(sa_column=varchar("provider", 50, nullable=False, index=True))
    provider_user_id: str | None = Field(default=None, sa_column=varchar("provider_user_id", 255))
    encrypted_tokens: str = Field(sa_column=text_col("encrypted_tokens", nullable=False))
    refresh_token_encrypted: str | None = Field(default=None, sa_column=text_col("refresh_token_encrypted"))
    token_expires_at: datetime | None = Field(default=None, sa_column=tstz("token_expires_at", index=True))
    scopes: list[str] | None = Field(default=None, sa_column=text_array("scopes"))
    capabilities: list[str] | None = Field(default=None, sa_column=text_array("capabilities"))
    status: str = Field(
        default=IntegrationStatus.CONNECTED, sa_column=varchar("status", 20, default="connected", index=True)
    )
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb("metadata"))
    last_sync_at: datetime | None = Field(default=None, sa_column=tstz("last_sync_at"))
    connected_at: datetime = Field(default_factory=utcnow, sa_column=tstz("connected_at", default_now=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=tstz("updated_at", default_now=True))
    deleted_at: datetime | None = Field(default=None, sa_column=tstz("deleted_at"))


class TokenEventKind(StrEnum):
    REFRESH = "refresh"
    REVOKE = "revoke"


class TokenEventOutcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"  # the provider answered with an OAuth error (e.g. invalid_grant)
    UNAVAILABLE = "unavailable"  # network, timeout, 5xx
    UNSUPPORTED = "unsupported"  # the provider offers no revocation


class IntegrationTokenEvent(Keyed, table=True):
    """The seed's "token refresh history" (kept 30 days): every refresh attempt and every revocation, with
    its outcome. Never a token."""

    __tablename__ = "integration_token_events"
    __table_args__ = (Index("idx_integration_token_events_integration", "integration_id", "attempted_at"),)

    integration_id: uuid.UUID = Field(sa_column=owner_fk("integrations.id", ondelete="CASCADE", name="integration_id"))
    kind: str = Field(sa_column=varchar("kind", 20, nullable=False))
    outcome: str = Field(sa_column=varchar("outcome", 20, nullable=False))
    error_code: str | None = Field(default=None, sa_column=varchar("error_code", 64))
    duration_ms: int | None = Field(default=None, sa_column=integer("duration_ms"))
    attempted_at: datetime = Field(default_factory=utcnow, sa_column=tstz("attempted_at", default_now=True, index=True))
