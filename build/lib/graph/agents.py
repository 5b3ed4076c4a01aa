"""MCP agents: the shared registry."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar

import strawberry

from graph.connection import Connection, load_connection, page_request
from graph.context import Info
from graph.input_limits import NAME, limited
from graph.jsondata import JSON, from_json, json_value
from graph.node import Node, build, columns, register_node
from graph.tasks import TaskFilterInput, TaskNode, TaskOrder, task_connection
from loaders.agents import AGENT_ORDERS, REGISTRY, AgentFilter
from models.agents import AgentStatus, AuthenticationType, HealthStatus

AgentStatusEnum = strawberry.enum(AgentStatus, name="AgentStatus")
HealthStatusEnum = strawberry.enum(HealthStatus, name="AgentHealthStatus")
AuthenticationTypeEnum = strawberry.enum(AuthenticationType, name="AgentAuthenticationType")


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
    type: AuthenticationTypeEnum = AuthenticationType.NONE


@strawberry.type
class AgentConfiguration:
    timeout: int | None = strawberry.field(default=None, description="Milliseconds.")
    retries: int | None = strawberry.field(default=None, description="Extra attempts after the first.")
    rate_limit: AgentRateLimit | None = None
    authentication: AgentAuthentication | None = None


@strawberry.enum
class AgentOrder(Enum):
    NAME_ASC = "NAME_ASC"
    NAME_DESC = "NAME_DESC"
    CREATED_AT_DESC = "CREATED_AT_DESC"


@strawberry.input(name="AgentFilter")
class AgentFilterInput:
    status: list[AgentStatusEnum] | None = None
    health_status: list[HealthStatusEnum] | None = None
    capability: str | None = limited(NAME, default=None, description="Agents offering this tool.")


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
        raw_capabilities="capabilities",
        raw_configuration="configuration",
    )
    pk: strawberry.Private[uuid.UUID]
    raw_capabilities: strawberry.Private[Any]
    raw_configuration: strawberry.Private[Any]
    name: str
    description: str | None
    endpoint: str
    status: AgentStatusEnum
    version: str | None
    health_check_url: str | None
    last_health_check: datetime | None
    health_status: HealthStatusEnum
    created_at: datetime
    updated_at: datetime

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

    @strawberry.field(description="The viewer's tasks run by this agent, newest first by default.")
    async def tasks(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: TaskFilterInput | None = None,
        order_by: TaskOrder | None = None,
    ) -> Connection[TaskNode]:
        return await task_connection(
            info, info.context.loaders.tasks_of_agent, self.pk, first, after, last, before, filter, order_by
        )


async def agents_connection(
    info: Info,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: AgentFilterInput | None,
    order_by: AgentOrder,
) -> Connection[MCPAgentNode] | None:
    if info.context.viewer is None:
        return None
    spec_filter = AgentFilter()
    if filter is not None:
        spec_filter = AgentFilter(
            statuses=tuple(sorted({AgentStatus(s.value) for s in filter.status or []})),
            health=tuple(sorted({HealthStatus(s.value) for s in filter.health_status or []})),
            capability=filter.capability,
        )
    request = page_request(
        AGENT_ORDERS[order_by.value], first=first, after=after, last=last, before=before, filters=spec_filter
    )
    return await load_connection(info.context.loaders.agents_registry, REGISTRY, request, MCPAgentNode.from_row)


async def _fetch_agents(info: Info, pks: list[uuid.UUID]) -> list[MCPAgentNode | None]:
    rows = await info.context.loaders.agents.load_many(pks)
    return [MCPAgentNode.from_row(row) if row is not None else None for row in rows]


register_node("MCPAgent", _fetch_agents)


@strawberry.type
class AgentsQuery:
    @strawberry.field(description="The shared MCP agent registry (signed-in users; null when anonymous).")
    async def agents(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: AgentFilterInput | None = None,
        order_by: AgentOrder = AgentOrder.NAME_ASC,
    ) -> Connection[MCPAgentNode] | None:
        return await agents_connection(info, first, after, last, before, filter, order_by)
