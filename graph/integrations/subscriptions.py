"""`integrationUpdated`: every status change of the viewer's integrations, live."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError
from sqlmodel import col

from graph.context import Info
from graph.errors import RequestErrorCode, request_error
from graph.integrations.types import IntegrationNode
from graph.node import input_id
from graph.shared_results import derived, shared_payload
from loaders.integrations import visible_integrations
from loaders.session import RequestDb
from models import Integration
from resolvers.integration_events import decode_integration, integration_channel
from services.events import StreamInterrupted


@strawberry.type
class IntegrationsSubscription:
    @strawberry.subscription(
        description="Status changes of one of your integrations, or (without an argument) of all of them."
    )
    async def integration_updated(
        self, info: Info, integration_id: strawberry.ID | None = None
    ) -> AsyncGenerator[IntegrationNode, None]:
        viewer = info.context.viewer
        if viewer is None:
            raise request_error("Sign in first.", RequestErrorCode.UNAUTHENTICATED)
        wanted = input_id(integration_id, "Integration") if integration_id is not None else None
        if integration_id is not None:
            db = RequestDb(info.context.resources.sessionmaker)
            try:
                query = visible_integrations(viewer.user_id).where(col(Integration.id) == wanted)
                found = await db.rows(query) if wanted else []
            finally:
                await db.close()
            if not found:
                raise GraphQLError("No such integration.", extensions={"code": "NOT_FOUND"})
        try:
            async with info.context.resources.events.listen(integration_channel(viewer.user_id)) as events:
                async for event in events:
                    row = derived(event, "row", decode_integration, event)
                    if wanted is not None and row.id != wanted:
                        continue
                    yield shared_payload(event, "node", IntegrationNode.from_row, row)
        except StreamInterrupted as error:
            raise GraphQLError(str(error), extensions={"code": "UNAVAILABLE"}) from None
