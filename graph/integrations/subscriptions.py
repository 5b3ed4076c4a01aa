"""`integrationUpdated`: every status change of the viewer's integrations, live."""

from __future__ import annotations

import strawberry

from graph.integrations.types import IntegrationNode
from graph.streams import updates_field
from loaders.integrations import visible_integrations
from resolvers.integration_events import INTEGRATION_EVENTS


@strawberry.type
class IntegrationsSubscription:
    integration_updated = updates_field(
        IntegrationNode,
        "integration_id",
        visible_integrations,
        INTEGRATION_EVENTS,
        description="Status changes of one of your integrations, or (without an argument) of all of them.",
    )
