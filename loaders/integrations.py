"""Integrations: node visibility, page specs, orders. Token columns are never selected."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from loaders import visibility
from loaders.columns import row_columns
from loaders.pagination import Order, PageSpec
from loaders.visibility import integrations, soft_deleted
from models import IntegrationTokenEvent
from models.base import table_of

SECRET_COLUMNS = frozenset({"encrypted_tokens", "refresh_token_encrypted"})
PUBLIC_COLUMNS = tuple(row_columns(integrations, exclude=SECRET_COLUMNS))

INTEGRATION_ORDERS = {
    "PROVIDER_ASC": Order("ipr+", (integrations.c.provider, integrations.c.id), descending=False),
    "CONNECTED_AT_DESC": Order("ico-", (integrations.c.connected_at, integrations.c.id), descending=True),
}


@dataclass(frozen=True)
class IntegrationFilter:
    providers: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()


def visible_integrations(viewer_id: uuid.UUID | None) -> Select[Any]:
    return visibility.visible_integrations(viewer_id, *PUBLIC_COLUMNS)


def integrations_of_user(spec_filter: IntegrationFilter) -> PageSpec:
    """The parent is the viewer: the lists hang off `viewer`. Disconnected integrations are soft-deleted:
    listed only when the filter asks for that status."""
    where = []
    if "disconnected" not in spec_filter.statuses:
        where.append(soft_deleted(integrations))
    if spec_filter.providers:
        where.append(integrations.c.provider.in_(spec_filter.providers))
    if spec_filter.statuses:
        where.append(integrations.c.status.in_(spec_filter.statuses))
    return PageSpec(base=select(*PUBLIC_COLUMNS), parent=integrations.c.user_id, where=tuple(where))


token_events = table_of(IntegrationTokenEvent)
TOKEN_EVENT_ORDER = Order("ite-", (token_events.c.attempted_at, token_events.c.id), descending=True)


def token_events_of_integration(_: object) -> PageSpec:
    """The refresh and revocation history of one integration (the parent is visible to the viewer)."""
    return PageSpec(base=select(*token_events.c), parent=token_events.c.integration_id)
