"""`connectIntegration` and `disconnectIntegration`."""

from __future__ import annotations

import uuid

import strawberry

from graph.context import Info
from graph.integrations import inputs as i
from graph.integrations.types import IntegrationNode
from graph.mutations import mutate
from graph.node import input_id
from graph.permissions import IsAuthenticated
from resolvers import integrations
from resolvers.integration_vault import Vault

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
        resources = info.context.resources
        return await mutate(
            info,
            lambda uow: integrations.start_connection(
                Vault.of(resources),
                _viewer(info),
                request,
                allowed_origins=resources.settings.cors_origins,
                redirect_base=redirect_base(info),
            ),
            lambda url: i.ConnectIntegrationPayload(authorization_url=url),
            i.ConnectIntegrationPayload,
        )

    @strawberry.mutation(
        permission_classes=SIGNED_IN,
        description="Revoke the tokens at the provider (where it offers that) and forget them; kept 90 days.",
    )
    async def disconnect_integration(
        self, info: Info, input: i.DisconnectIntegrationInput
    ) -> i.DisconnectIntegrationPayload:
        vault = Vault.of(info.context.resources)
        return await mutate(
            info,
            lambda uow: integrations.disconnect(
                uow, vault, _viewer(info), input_id(input.integration_id, "Integration")
            ),
            lambda row: i.DisconnectIntegrationPayload(integration=IntegrationNode.from_row(row)),
            i.DisconnectIntegrationPayload,
        )
