"""The agent registry's mutations (operators only)."""

from __future__ import annotations

import strawberry

from graph.agents.inputs import AgentIdInput, RegisterAgentInput, UpdateAgentInput
from graph.agents.types import MCPAgentNode
from graph.context import Info
from graph.mutations import Work, node_answer, operator_mutation
from graph.node import input_id
from models import MCPAgent
from resolvers import agent_settings, agents

AGENT = node_answer("agent", MCPAgentNode)


def _settings(data: RegisterAgentInput | UpdateAgentInput) -> agent_settings.AgentSettings:
    config = data.configuration
    auth = config.authentication if config else None
    limit = config.rate_limit if config else None
    return agent_settings.AgentSettings(
        name=data.name,
        endpoint=data.endpoint,
        description=data.description,
        health_check_url=data.health_check_url,
        timeout=config.timeout if config else None,
        retries=config.retries if config else None,
        rate_limit=agent_settings.RateLimit(limit.requests, limit.window) if limit else None,
        auth_type=auth.type if auth else None,
        api_key=auth.api_key if auth else None,
        api_key_header=auth.header if auth else None,
        token_url=auth.token_url if auth else None,
        client_id=auth.client_id if auth else None,
        scope=auth.scope if auth else None,
    )


@strawberry.type
class AgentsMutation:
    @operator_mutation(
        AGENT,
        description="Add an MCP agent; its tools are discovered over MCP before it is stored.",
    )
    def register_agent(self, info: Info, input: RegisterAgentInput) -> Work[MCPAgent]:
        r = info.context.resources
        return lambda uow: agents.register_agent(uow, r.redis, r.box, r.policy, _settings(input))

    @operator_mutation(AGENT)
    def update_agent(self, info: Info, input: UpdateAgentInput) -> Work[MCPAgent]:
        r = info.context.resources
        agent_id = input_id(input.agent_id, "MCPAgent")
        return lambda uow: agents.update_agent(uow, r.redis, r.box, r.policy, agent_id, _settings(input))

    @operator_mutation(
        AGENT,
        description="Soft delete: its name is free again; `restoreAgent` brings it back while no live agent took it.",
    )
    def delete_agent(self, info: Info, input: AgentIdInput) -> Work[MCPAgent]:
        return lambda uow: agents.delete_agent(uow, info.context.redis, input_id(input.agent_id, "MCPAgent"))

    @operator_mutation(
        AGENT,
        description="Bring a deleted agent back (ALREADY_EXISTS when a live agent has its name).",
    )
    def restore_agent(self, info: Info, input: AgentIdInput) -> Work[MCPAgent]:
        return lambda uow: agents.restore_agent(uow, info.context.redis, input_id(input.agent_id, "MCPAgent"))

    @operator_mutation(
        AGENT,
        description="Take the agent out of use (INACTIVE): runTask refuses it and health checks skip it.",
    )
    def deactivate_agent(self, info: Info, input: AgentIdInput) -> Work[MCPAgent]:
        return lambda uow: agents.set_active(uow, input_id(input.agent_id, "MCPAgent"), active=False)

    @operator_mutation(AGENT, description="Put an INACTIVE (or ERROR) agent back in use.")
    def activate_agent(self, info: Info, input: AgentIdInput) -> Work[MCPAgent]:
        return lambda uow: agents.set_active(uow, input_id(input.agent_id, "MCPAgent"), active=True)

    @operator_mutation(AGENT, description="Ask the agent for its tools again.")
    def refresh_agent_capabilities(self, info: Info, input: AgentIdInput) -> Work[MCPAgent]:
        r = info.context.resources
        agent_id = input_id(input.agent_id, "MCPAgent")
        return lambda uow: agents.refresh_capabilities(uow, r.redis, r.box, r.policy, agent_id)

    @operator_mutation(AGENT, description="Check the agent's health now.")
    def check_agent_health(self, info: Info, input: AgentIdInput) -> Work[MCPAgent]:
        r = info.context.resources
        agent_id = input_id(input.agent_id, "MCPAgent")
        return lambda uow: agents.check_health(uow, r.redis, r.box, r.policy, agent_id)
