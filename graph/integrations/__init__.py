"""Integrations: the Integration type, providers, connect/disconnect, live status, the OAuth callback."""

from graph.integrations.inputs import IntegrationFilterInput
from graph.integrations.mutations import IntegrationsMutation
from graph.integrations.queries import IntegrationsQuery
from graph.integrations.subscriptions import IntegrationsSubscription
from graph.integrations.types import INTEGRATIONS, IntegrationNode, IntegrationOrder

__all__ = [
    "INTEGRATIONS",
    "IntegrationFilterInput",
    "IntegrationNode",
    "IntegrationOrder",
    "IntegrationsMutation",
    "IntegrationsQuery",
    "IntegrationsSubscription",
]
