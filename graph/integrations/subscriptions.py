"""`integrationUpdated`: every status change of the viewer's integrations, live."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from sqlmodel import col

from graph.context import Info
from graph.integrations.types import IntegrationNode
from graph.shared_results import derived, shared_payload
from graph.streams import listening, signed_in, watched
from loaders.integrations import visible_integrations
from models import Integration
from resolvers.integration_events import decode_integration, integration_channel


@strawberry.type
class IntegrationsSubscription:
    @strawberry.subscription(
        description="Status changes of one of your integrations, or (without an argument) of all of them."
    )
    async def integration_updated(
        self, info: Info, integration_id: strawberry.ID | None = None
    ) -> AsyncGenerator[IntegrationNode, None]:
        viewer_id = signed_in(info)
        wanted = await watched(
            info,
            integration_id,
            "Integration",
            lambda pk: visible_integrations(viewer_id).where(col(Integration.id) == pk),
        )
        async with listening(info, integration_channel(viewer_id)) as events:
            async for event in events:
                row = derived(event, "row", decode_integration, event)
                if wanted is None or row.id == wanted:
                    yield shared_payload(event, "node", IntegrationNode.from_row, row)
