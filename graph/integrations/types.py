"""Integrations with outside applications. Tokens are never part of the graph."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar

import strawberry

from graph.connection import Connection, HistoryEntry, Listing, history_field
from graph.enums import IntegrationProvider, IntegrationStatus, TokenEventKind, TokenEventOutcome
from graph.integrations.inputs import IntegrationFilterInput, integration_filter
from graph.jsondata import json_field
from graph.node import Node, columns, register_node_type
from loaders.integrations import INTEGRATION_ORDERS, TOKEN_EVENT_ORDER


@strawberry.type
class IntegrationError:
    code: str = ""
    message: str = ""
    timestamp: datetime | None = None


@strawberry.type
class IntegrationSyncStats:
    total_synced: int = 0
    last_sync_duration: int = strawberry.field(default=0, description="Milliseconds.")
    errors: int = 0


@strawberry.type
class IntegrationMetadata:
    email: str | None = None
    display_name: str | None = None
    avatar: str | None = None
    organization_id: str | None = None
    last_error: IntegrationError | None = None
    sync_stats: IntegrationSyncStats | None = None


@strawberry.type(description="One refresh or revocation of an integration's tokens, and how it went (kept 30 days).")
class IntegrationTokenEvent(HistoryEntry):
    kind: TokenEventKind
    outcome: TokenEventOutcome
    error_code: str | None = strawberry.field(description="The provider's error code, e.g. `invalid_grant`.")
    duration_ms: int | None
    attempted_at: datetime


@strawberry.enum
class IntegrationOrder(Enum):
    PROVIDER_ASC = "PROVIDER_ASC"
    CONNECTED_AT_DESC = "CONNECTED_AT_DESC"


@strawberry.type(name="Integration", description="A connection to an outside application.")
class IntegrationNode(Node):
    COLUMNS: ClassVar[dict[str, str]] = columns(
        "provider",
        "provider_user_id",
        "token_expires_at",
        "scopes",
        "capabilities",
        "status",
        "last_sync_at",
        "connected_at",
        "updated_at",
        "deleted_at",
        raw_metadata="metadata",
    )
    pk: strawberry.Private[uuid.UUID]
    raw_metadata: strawberry.Private[Any]
    provider: IntegrationProvider
    provider_user_id: str | None
    token_expires_at: datetime | None
    scopes: list[str] | None
    capabilities: list[str] | None
    status: IntegrationStatus
    last_sync_at: datetime | None
    connected_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = strawberry.field(description="When it was disconnected (purged 90 days later).")

    metadata = json_field(IntegrationMetadata, "raw_metadata")

    refresh_history: Connection[IntegrationTokenEvent] = history_field(
        IntegrationTokenEvent,
        TOKEN_EVENT_ORDER,
        lambda loaders: loaders.token_events_of_integration,
        description="Its token refreshes and revocations, newest first (kept 30 days).",
    )


INTEGRATIONS = Listing(
    IntegrationNode, IntegrationFilterInput, IntegrationOrder.PROVIDER_ASC, integration_filter, INTEGRATION_ORDERS
)


register_node_type(IntegrationNode, lambda loaders: loaders.integrations)
