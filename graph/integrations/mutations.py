"""`connectIntegration` and `disconnectIntegration`. The use cases publish the integration's event and drop
its cached token after the commit."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.integrations.inputs import ConnectIntegrationInput, DisconnectIntegrationInput
from graph.integrations.types import IntegrationNode
from graph.mutations import Answer, Work, node_answer, signed_in_mutation
from graph.node import input_id
from graph.permissions import viewer_id
from models import Integration
from resolvers import integrations
from resolvers.integration_vault import Vault

CONSENT_PAGE: Answer[str] = Answer({"authorization_url": str | None}, lambda url: {"authorization_url": url})
INTEGRATION = node_answer("integration", IntegrationNode)


def redirect_base(info: Info) -> str:
    """GATEWAY_PUBLIC_URL when set, else this request's own base URL."""
    settings = info.context.resources.settings
    return settings.public_url or str(info.context.request.base_url)


@strawberry.type
class IntegrationsMutation:
    @signed_in_mutation(
        CONSENT_PAGE,
        description="Start connecting an application: answers `authorizationUrl`, the provider's consent page to "
        "send the browser to; it comes back to `returnTo?integration=<id>` or `returnTo?error=<code>`.",
    )
    def connect_integration(self, info: Info, input: ConnectIntegrationInput) -> Work[str]:
        request = integrations.ConnectRequest(
            provider=input.provider,
            scopes=tuple(input.scopes) if input.scopes is not None else None,
            return_to=input.return_to,
        )
        resources = info.context.resources
        return lambda uow: integrations.start_connection(
            Vault.of(resources),
            viewer_id(info),
            request,
            allowed_origins=resources.settings.cors_origins,
            redirect_base=redirect_base(info),
        )

    @signed_in_mutation(
        INTEGRATION,
        description="Revoke the tokens at the provider (where it offers that) and forget them; kept 90 days.",
    )
    def disconnect_integration(self, info: Info, input: DisconnectIntegrationInput) -> Work[Integration]:
        vault = Vault.of(info.context.resources)
        return lambda uow: integrations.disconnect(
            uow, vault, viewer_id(info), input_id(input.integration_id, "Integration")
        )
