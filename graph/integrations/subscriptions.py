"""`integrationUpdated`: every status change of the viewer's integrations, live."""

from __future__ import annotations

import strawberry
from sqlmodel import col

from graph.integrations.types import IntegrationNode
from graph.streams import updates_field
from loaders.integrations import visible_integrations
from models import Integration
from resolvers.integration_events import decode_integration, integration_channel


@strawberry.type
class IntegrationsSubscription:
    integration_updated = updates_field(
        IntegrationNode,
        "integration_id",
        lambda viewer_id, pk: visible_integrations(viewer_id).where(col(Integration.id) == pk),
        integration_channel,
        decode_integration,
        description="Status changes of one of your integrations, or (without an argument) of all of them.",
    )
