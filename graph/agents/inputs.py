"""Agent inputs: the registry's filter and order, and the mutations' inputs."""

from __future__ import annotations

import strawberry

from graph.connection import order_enum
from graph.enums import AgentStatus, AuthenticationType, HealthStatus
from graph.input_limits import API_KEY, DESCRIPTION, NAME, TITLE, URL, limited
from loaders.agents import AGENT_ORDERS, AgentFilter

AgentOrder = order_enum("AgentOrder", AGENT_ORDERS)


@strawberry.input(name="AgentFilter")
class AgentFilterInput:
    status: list[AgentStatus] | None = None
    health_status: list[HealthStatus] | None = None
    capability: str | None = limited(NAME, default=None, description="Agents offering this tool.")
    deleted: bool = strawberry.field(
        default=False, description="Only the deleted agents (soft-deleted; an operator can restore them)."
    )


def agent_filter(filter: AgentFilterInput | None) -> AgentFilter:
    if filter is None:
        return AgentFilter()
    return AgentFilter(
        statuses=tuple(sorted(set(filter.status or []))),
        health=tuple(sorted(set(filter.health_status or []))),
        capability=filter.capability,
        deleted=filter.deleted,
    )


@strawberry.input
class RateLimitInput:
    requests: int
    window: int = strawberry.field(description="Seconds.")


@strawberry.input(
    description="How the gateway authenticates to the agent. The key is encrypted at rest and never returned."
)
class AgentAuthenticationInput:
    type: AuthenticationType
    api_key: str | None = limited(
        API_KEY,
        default=None,
        description="For `APIKEY`; for `OAUTH`, an access token, or with `tokenUrl` the client secret.",
    )
    header: str | None = limited(
        NAME, default=None, description="Header to send it in (default Authorization, as a Bearer token)."
    )
    token_url: str | None = limited(
        URL,
        default=None,
        description="`OAUTH` with the client-credentials grant: the token endpoint; tokens are fetched, cached "
        "until they expire and fetched again.",
    )
    client_id: str | None = limited(TITLE, default=None, description="`OAUTH` with `tokenUrl`: the client id.")
    scope: str | None = limited(URL, default=None, description="`OAUTH` with `tokenUrl`: the scope to ask for.")


@strawberry.input
class AgentConfigurationInput:
    timeout: int | None = strawberry.field(default=None, description="Milliseconds per call (default 30000).")
    retries: int | None = strawberry.field(default=None, description="Extra attempts after the first.")
    rate_limit: RateLimitInput | None = None
    authentication: AgentAuthenticationInput | None = None


@strawberry.input
class RegisterAgentInput:
    name: str = limited(NAME)
    endpoint: str = limited(URL, description="The agent's MCP streamable-HTTP URL.")
    description: str | None = limited(DESCRIPTION, default=None)
    health_check_url: str | None = limited(URL, default=None)
    configuration: AgentConfigurationInput | None = None


@strawberry.input(description="Only what is given changes.")
class UpdateAgentInput:
    agent_id: strawberry.ID
    name: str | None = limited(NAME, default=None)
    endpoint: str | None = limited(URL, default=None)
    description: str | None = limited(DESCRIPTION, default=None)
    health_check_url: str | None = limited(URL, default=None)
    configuration: AgentConfigurationInput | None = None


@strawberry.input
class AgentIdInput:
    agent_id: strawberry.ID
