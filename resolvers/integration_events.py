"""Integration events on Redis: one channel per user; each event carries the integration's public
columns as stored (never a token column). The web process and the worker publish what `encode_integration`
makes, and `integrationUpdated` reads it back with `decode_integration`."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from models import Integration
from models.base import column_values
from models.row_codec import RowCodec
from resolvers.unit_of_work import UnitOfWork
from services.events import EventHub

INTEGRATION_EVENT_KIND = "integration"
SECRET_COLUMNS = frozenset({"encrypted_tokens", "refresh_token_encrypted"})
_ROWS = RowCodec.of(Integration.__table__, leave_out=SECRET_COLUMNS)  # type: ignore[attr-defined]


def integration_channel(user_id: uuid.UUID | str) -> str:
    return f"integrations:user:{user_id}"


def encode_integration(integration: Integration) -> dict[str, Any]:
    return {"kind": INTEGRATION_EVENT_KIND, "integration": _ROWS.encode(vars(column_values(integration)))}


def decode_integration(event: dict[str, Any]) -> SimpleNamespace:
    """The row an event carries, with its column types back (what `IntegrationNode.from_row` reads)."""
    return _ROWS.decode(event["integration"])


async def publish_integration(events: EventHub, integration: Integration) -> None:
    """Tell the owner's subscribers how the integration stands now."""
    await events.publish(integration_channel(integration.user_id), encode_integration(integration))


def publish_integration_after_commit(uow: UnitOfWork, integration: Integration) -> None:
    """The event as the row stands now, published once the unit of work committed."""
    uow.publish(integration_channel(integration.user_id), encode_integration(integration))
