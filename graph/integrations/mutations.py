"""`connectIntegration` and `disconnectIntegration`."""

from __future__ import annotations

import uuid

import strawberry

from graph.context import Info
from graph.errors import user_errors
from graph.integrations import inputs as i
from graph.integrations.types import IntegrationNode
from graph.integrations.vault import vault_of
from graph.mutations import transactions
from graph.node import input_id
from graph.permissions import IsAuthenticated
from resolvers import integrations
from resolvers.problems import Rejected

SIGNED_IN = [IsAuthenticated]


def _viewer(info: Info) -> uuid.UUID:
    assert info.context.viewer is not None  # IsAuthenticated ran first
    return info.context.viewer.user_id


def redirect_base(info: Info) -> str:
    """GATEWAY_PUBLIC_URL when set, else this request's own base URL."""
    settings = info.context.resources.settings
    return settings.public_url or str(info.context.request.base_url)


@strawberry.type
class IntegrationsMutation:
    @strawberry.mutation(
        permission_classes=SIGNED_IN,
        description="Start connecting an application: answers the provider's consent page to send the browser to.",
    )
    async def connect_integration(self, info: Info, input: i.ConnectIntegrationInput) -> i.ConnectIntegrationPayload:
        request = integrations.ConnectRequest(
            provider=input.provider.value,
            scopes=tuple(input.scopes) if input.scopes is not None else None,
            return_to=input.return_to,
        )
        try:
            url = await integrations.start_connection(
                vault_of(info.context.resources),
                _viewer(info),
                request,
                allowed_origins=info.context.resources.settings.cors_origins,
                redirect_base=redirect_base(info),
            )
        except Rejected as rejected:
            return i.ConnectIntegrationPayload(errors=user_errors(rejected.problems))
        return i.ConnectIntegrationPayload(authorization_url=url)

    @strawberry.mutation(
        permission_classes=SIGNED_IN,
        description="Revoke the tokens at the provider (where it offers that) and forget them; kept 90 days.",
    )
    async def disconnect_integration(
        self, info: Info, input: i.DisconnectIntegrationInput
    ) -> i.DisconnectIntegrationPayload:
        try:
            moved = await integrations.disconnect(
                vault_of(info.context.resources),
                transactions(info),
                _viewer(info),
                input_id(input.integration_id, "Integration"),
            )
        except Rejected as rejected:
            return i.DisconnectIntegrationPayload(errors=user_errors(rejected.problems))
        return i.DisconnectIntegrationPayload(integration=IntegrationNode.from_row(moved))
