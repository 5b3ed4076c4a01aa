"""`integrationProviders`: what can be connected here, with which scopes and what each gives."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.enums import IntegrationProvider
from services.oauth.providers import ProviderConfig


@strawberry.type(description="A permission a provider can grant, and what it lets the assistant do.")
class IntegrationScope:
    name: str
    description: str
    capabilities: list[str]


@strawberry.type(description="An application that can be connected, as configured on this gateway.")
class IntegrationProviderInfo:
    provider: IntegrationProvider
    name: str
    configured: bool = strawberry.field(description="Client credentials are set; only then can it be connected.")
    scopes: list[IntegrationScope]
    default_scopes: list[str] = strawberry.field(description="Asked for when `connectIntegration` names none.")
    capabilities: list[str] = strawberry.field(description="Everything its scopes can give.")
    supports_revocation: bool = strawberry.field(description="Disconnecting revokes the tokens at the provider.")

    @classmethod
    def of(cls, config: ProviderConfig) -> IntegrationProviderInfo:
        spec = config.spec
        return cls(
            provider=spec.provider,
            name=spec.display_name,
            configured=config.configured,
            scopes=[
                IntegrationScope(name=s.name, description=s.description, capabilities=list(s.capabilities))
                for s in spec.scopes
            ],
            default_scopes=list(spec.default_scopes),
            capabilities=config.capabilities(scope.name for scope in spec.scopes),
            supports_revocation=spec.revoke_url is not None,
        )


@strawberry.type
class IntegrationsQuery:
    @strawberry.field(description="The applications that can be connected, and whether each is set up here.")
    def integration_providers(self, info: Info) -> list[IntegrationProviderInfo]:
        return [IntegrationProviderInfo.of(config) for config in info.context.resources.registry.all()]
