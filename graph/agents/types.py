"""The MCPAgent type: an agent of the shared registry, its typed configuration, and its connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import strawberry

from graph.agents.inputs import AgentFilterInput, AgentOrder, agent_filter
from graph.connection import Listing
from graph.enums import AgentStatus, AuthenticationType, HealthStatus
from graph.jsondata import JSON, from_json, json_field, json_value
from graph.node import Node, field_columns, register_node_type
from graph.tasks.types import TASKS
from loaders.agents import AGENT_ORDERS


@strawberry.type(description="One tool the agent offers (an MCP tool).")
class AgentCapability:
    name: str = ""
    description: str = ""
    input_schema: JSON | None = None
    output_schema: JSON | None = None
    examples: list[JSON] = strawberry.field(default_factory=list)


@strawberry.type
class AgentRateLimit:
    requests: int = 0
    window: int = strawberry.field(default=0, description="Seconds.")


@strawberry.type(
    description="How the gateway authenticates to the agent. Only the type is shown; "
    "credentials never leave the server."
)
class AgentAuthentication:
    type: AuthenticationType = AuthenticationType.NONE


@strawberry.type
class AgentConfiguration:
    timeout: int | None = strawberry.field(default=None, description="Milliseconds.")
    retries: int | None = strawberry.field(default=None, description="Extra attempts after the first.")
    rate_limit: AgentRateLimit | None = None
    authentication: AgentAuthentication | None = None


@strawberry.type(name="MCPAgent", description="A Model Context Protocol agent the assistant can use.")
class MCPAgentNode(Node):
    COLUMNS: ClassVar[dict[str, str]] = field_columns(
        raw_capabilities="capabilities", raw_configuration="configuration"
    )
    pk: strawberry.Private[uuid.UUID]
    raw_capabilities: strawberry.Private[Any]
    raw_configuration: strawberry.Private[Any]
    name: str
    description: str | None
    endpoint: str
    status: AgentStatus
    version: str | None
    health_check_url: str | None
    last_health_check: datetime | None
    health_status: HealthStatus
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @strawberry.field
    def capabilities(self) -> list[AgentCapability]:
        raw = json_value(self.raw_capabilities)
        raw = raw if isinstance(raw, list) else []
        return [from_json(AgentCapability, item) for item in raw if isinstance(item, dict)]

    configuration = json_field(AgentConfiguration, "raw_configuration")

    tasks = TASKS.field(
        lambda loaders: loaders.tasks_of_agent, "The viewer's tasks run by this agent, newest first by default."
    )


AGENTS = Listing(MCPAgentNode, AgentFilterInput, AgentOrder["NAME_ASC"], agent_filter, AGENT_ORDERS)


register_node_type(MCPAgentNode, lambda loaders: loaders.agents)
