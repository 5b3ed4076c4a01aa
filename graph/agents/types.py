"""The MCPAgent type: an agent of the shared registry, its typed configuration, and its connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import strawberry

from graph.agents.inputs import AgentFilterInput, AgentOrder, agent_filter
from graph.connection import Listing
from graph.context import Info
from graph.enums import AgentStatus, AuthenticationType, HealthStatus
from graph.jsondata import JSON, from_json, json_value
from graph.node import Node, build, columns, register_node
from graph.tasks.types import tasks_field
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
    COLUMNS: ClassVar[dict[str, str]] = columns(
        "name",
        "description",
        "endpoint",
        "status",
        "version",
        "health_check_url",
        "last_health_check",
        "health_status",
        "created_at",
        "updated_at",
        "deleted_at",
        raw_capabilities="capabilities",
        raw_configuration="configuration",
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

    @classmethod
    def from_row(cls, row: Any) -> MCPAgentNode:
        return build(cls, "MCPAgent", row)

    @strawberry.field
    def capabilities(self) -> list[AgentCapability]:
        raw = json_value(self.raw_capabilities)
        raw = raw if isinstance(raw, list) else []
        return [from_json(AgentCapability, item) for item in raw if isinstance(item, dict)]

    @strawberry.field
    def configuration(self) -> AgentConfiguration:
        return from_json(AgentConfiguration, self.raw_configuration)

    tasks = tasks_field(
        lambda loaders: loaders.tasks_of_agent, "The viewer's tasks run by this agent, newest first by default."
    )


AGENTS = Listing(
    node=MCPAgentNode,
    filter_input=AgentFilterInput,
    to_filter=agent_filter,
    order=AgentOrder,
    default_order=AgentOrder.NAME_ASC,
    orders=AGENT_ORDERS,
)


async def _fetch_agents(info: Info, pks: list[uuid.UUID]) -> list[MCPAgentNode | None]:
    rows = await info.context.loaders.agents.load_many(pks)
    return [MCPAgentNode.from_row(row) if row is not None else None for row in rows]


register_node("MCPAgent", _fetch_agents)
