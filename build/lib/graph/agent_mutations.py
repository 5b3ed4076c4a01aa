"""The agent registry's mutations (operators only)."""

from __future__ import annotations

import strawberry

from graph.agents import AuthenticationTypeEnum, MCPAgentNode
from graph.context import Info
from graph.errors import UserError
from graph.input_limits import API_KEY, DESCRIPTION, NAME, URL, limited
from graph.mutations import mutate
from graph.node import input_id
from graph.permissions import IsOperator
from models.agents import AuthenticationType
from resolvers import agents

OPERATORS = [IsOperator]


@strawberry.input
class RateLimitInput:
    requests: int
    window: int = strawberry.field(description="Seconds.")


@strawberry.input(
    description="How the gateway authenticates to the agent. The key is encrypted at rest and never returned."
)
class AgentAuthenticationInput:
    type: AuthenticationTypeEnum
    api_key: str | None = limited(API_KEY, default=None, description="For `APIKEY` (or an OAuth access token).")
    header: str | None = limited(
        NAME, default=None, description="Header to send it in (default Authorization, as a Bearer token)."
    )


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


@strawberry.input
class DeleteAgentInput(AgentIdInput):
    """Input of `deleteAgent`."""


@strawberry.input
class RefreshAgentCapabilitiesInput(AgentIdInput):
    """Input of `refreshAgentCapabilities`."""


@strawberry.input
class CheckAgentHealthInput(AgentIdInput):
    """Input of `checkAgentHealth`."""


@strawberry.type
class AgentPayload:
    agent: MCPAgentNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RegisterAgentPayload(AgentPayload):
    """Answer of `registerAgent`."""


@strawberry.type
class UpdateAgentPayload(AgentPayload):
    """Answer of `updateAgent`."""


@strawberry.type
class DeleteAgentPayload(AgentPayload):
    """Answer of `deleteAgent`."""


@strawberry.type
class RefreshAgentCapabilitiesPayload(AgentPayload):
    """Answer of `refreshAgentCapabilities`."""


@strawberry.type
class CheckAgentHealthPayload(AgentPayload):
    """Answer of `checkAgentHealth`."""


def _settings(data: RegisterAgentInput | UpdateAgentInput) -> agents.AgentSettings:
    config = data.configuration
    auth = config.authentication if config else None
    limit = config.rate_limit if config else None
    return agents.AgentSettings(
        name=data.name,
        endpoint=data.endpoint,
        description=data.description,
        health_check_url=data.health_check_url,
        timeout=config.timeout if config else None,
        retries=config.retries if config else None,
        rate_limit=agents.RateLimit(limit.requests, limit.window) if limit else None,
        auth_type=AuthenticationType(auth.type.value) if auth else None,
        api_key=auth.api_key if auth else None,
        api_key_header=auth.header if auth else None,
    )


@strawberry.type
class AgentsMutation:
    @strawberry.mutation(
        permission_classes=OPERATORS,
        description="Add an MCP agent; its tools are discovered over MCP before it is stored.",
    )
    async def register_agent(self, info: Info, input: RegisterAgentInput) -> RegisterAgentPayload:
        r = info.context.resources
        return await mutate(
            info,
            lambda uow: agents.register_agent(uow, r.redis, r.box, r.policy, _settings(input)),
            lambda row: RegisterAgentPayload(agent=MCPAgentNode.from_row(row)),
            RegisterAgentPayload,
        )

    @strawberry.mutation(permission_classes=OPERATORS)
    async def update_agent(self, info: Info, input: UpdateAgentInput) -> UpdateAgentPayload:
        r = info.context.resources
        return await mutate(
            info,
            lambda uow: agents.update_agent(
                uow, r.redis, r.box, r.policy, input_id(input.agent_id, "MCPAgent"), _settings(input)
            ),
            lambda row: UpdateAgentPayload(agent=MCPAgentNode.from_row(row)),
            UpdateAgentPayload,
        )

    @strawberry.mutation(permission_classes=OPERATORS, description="Soft delete.")
    async def delete_agent(self, info: Info, input: DeleteAgentInput) -> DeleteAgentPayload:
        r = info.context.resources
        return await mutate(
            info,
            lambda uow: agents.delete_agent(uow, r.redis, input_id(input.agent_id, "MCPAgent")),
            lambda row: DeleteAgentPayload(agent=MCPAgentNode.from_row(row)),
            DeleteAgentPayload,
        )

    @strawberry.mutation(permission_classes=OPERATORS, description="Ask the agent for its tools again.")
    async def refresh_agent_capabilities(
        self, info: Info, input: RefreshAgentCapabilitiesInput
    ) -> RefreshAgentCapabilitiesPayload:
        r = info.context.resources
        return await mutate(
            info,
            lambda uow: agents.refresh_capabilities(
                uow, r.redis, r.box, r.policy, input_id(input.agent_id, "MCPAgent")
            ),
            lambda row: RefreshAgentCapabilitiesPayload(agent=MCPAgentNode.from_row(row)),
            RefreshAgentCapabilitiesPayload,
        )

    @strawberry.mutation(permission_classes=OPERATORS, description="Check the agent's health now.")
    async def check_agent_health(self, info: Info, input: CheckAgentHealthInput) -> CheckAgentHealthPayload:
        r = info.context.resources
        return await mutate(
            info,
            lambda uow: agents.check_health(uow, r.redis, r.box, r.policy, input_id(input.agent_id, "MCPAgent")),
            lambda row: CheckAgentHealthPayload(agent=MCPAgentNode.from_row(row)),
            CheckAgentHealthPayload,
        )
