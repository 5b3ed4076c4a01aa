"""Inputs and payloads of the integration mutations."""

from __future__ import annotations

import strawberry

from graph.errors import UserError
from graph.input_limits import URL, limited
from graph.integrations.types import IntegrationNode, ProviderEnum

SCOPE = 200


@strawberry.input
class ConnectIntegrationInput:
    provider: ProviderEnum
    scopes: list[str] | None = limited(
        SCOPE, default=None, description="Scopes to ask for (see `integrationProviders`); none: its defaults."
    )
    return_to: str = limited(
        URL, description="Where the browser goes afterwards (its origin must be allowed by GATEWAY_CORS_ORIGINS)."
    )


@strawberry.type
class ConnectIntegrationPayload:
    authorization_url: str | None = strawberry.field(
        default=None, description="Send the browser here; it comes back to `returnTo?integration=<id>` or `?error=`."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DisconnectIntegrationInput:
    integration_id: strawberry.ID


@strawberry.type
class DisconnectIntegrationPayload:
    integration: IntegrationNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
