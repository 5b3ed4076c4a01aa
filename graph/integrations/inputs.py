"""Inputs and payloads of the integration mutations."""

from __future__ import annotations

import strawberry

from graph.enums import IntegrationProvider, IntegrationStatus
from graph.input_limits import URL, limited
from loaders.integrations import IntegrationFilter

SCOPE = 200


@strawberry.input(name="IntegrationFilter")
class IntegrationFilterInput:
    provider: list[IntegrationProvider] | None = None
    status: list[IntegrationStatus] | None = None


def integration_filter(filter: IntegrationFilterInput | None) -> IntegrationFilter:
    if filter is None:
        return IntegrationFilter()
    return IntegrationFilter(
        providers=tuple(sorted(set(filter.provider or []))), statuses=tuple(sorted(set(filter.status or [])))
    )


@strawberry.input
class ConnectIntegrationInput:
    provider: IntegrationProvider
    scopes: list[str] | None = limited(
        SCOPE, default=None, description="Scopes to ask for (see `integrationProviders`); none: its defaults."
    )
    return_to: str = limited(
        URL, description="Where the browser goes afterwards (its origin must be allowed by GATEWAY_CORS_ORIGINS)."
    )


@strawberry.input
class DisconnectIntegrationInput:
    integration_id: strawberry.ID
