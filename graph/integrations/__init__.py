"""Integrations: the Integration type, providers, connect/disconnect, live status, the OAuth callback."""

from graph.integrations.mutations import IntegrationsMutation
from graph.integrations.queries import IntegrationsQuery
from graph.integrations.subscriptions import IntegrationsSubscription
from graph.integrations.types import IntegrationFilterInput, IntegrationNode, IntegrationOrder, integrations_connection

__all__ = [
    "IntegrationFilterInput",
    "IntegrationNode",
    "IntegrationOrder",
    "IntegrationsMutation",
    "IntegrationsQuery",
    "IntegrationsSubscription",
    "integrations_connection",
]
