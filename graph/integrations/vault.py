"""The token vault as the web process builds it from its resources."""

from __future__ import annotations

from graph.context import Resources
from resolvers.integration_vault import Vault


def vault_of(resources: Resources) -> Vault:
    return Vault(
        sessions=resources.sessions,
        redis=resources.redis,
        box=resources.box,
        policy=resources.policy,
        registry=resources.registry,
        events=resources.events,
        margin_seconds=resources.settings.token_refresh_margin,
    )
