"""Integration events on Redis: one channel per user; each event carries the integration's public
columns as stored (never a token column). The web process and the worker publish what `encode_integration`
makes, and `integrationUpdated` reads it back with `decode_integration`."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from models import Integration
from models.base import column_values
from resolvers.unit_of_work import UnitOfWork
from services.events import EventHub

INTEGRATION_EVENT_KIND = "integration"
SECRET_COLUMNS = frozenset({"encrypted_tokens", "refresh_token_encrypted"})
_UUIDS = ("id", "user_id")
_DATETIMES = ("token_expires_at", "last_sync_at", "connected_at", "updated_at", "deleted_at")


def integration_channel(user_id: uuid.UUID | str) -> str:
    return f"integrations:user:{user_id}"


def encode_integration(integration: Integration) -> dict[str, Any]:
    row = {key: value for key, value in vars(column_values(integration)).items() if key not in SECRET_COLUMNS}
    return {"kind": INTEGRATION_EVENT_KIND, "integration": json.loads(json.dumps(row, default=str))}


def decode_integration(event: dict[str, Any]) -> SimpleNamespace:
    """The row an event carries, with its column types back (what `IntegrationNode.from_row` reads)."""
    row = dict(event["integration"])
    for key in _UUIDS:
        if row.get(key):
            row[key] = uuid.UUID(row[key])
    for key in _DATETIMES:
        if row.get(key):
            row[key] = datetime.fromisoformat(row[key])
    return SimpleNamespace(**row)


async def publish_integration(events: EventHub, integration: Integration) -> None:
    """Tell the owner's subscribers how the integration stands now."""
    await events.publish(integration_channel(integration.user_id), encode_integration(integration))


def publish_integration_after_commit(uow: UnitOfWork, integration: Integration) -> None:
    """The event as the row stands now, published once the unit of work committed."""
    uow.publish(integration_channel(integration.user_id), encode_integration(integration))
