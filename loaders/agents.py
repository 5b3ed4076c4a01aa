"""MCP agents: shared, readable by every signed-in user."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, literal

from loaders import visibility
from loaders.columns import row_columns
from loaders.pagination import Order, PageSpec
from loaders.visibility import agents

AGENT_COLUMNS = row_columns(agents)

# The root `agents` connection has no parent row; a constant parent lets it share the page machinery.
REGISTRY = uuid.UUID(int=0)

AGENT_ORDERS = {
    "NAME_ASC": Order("ana+", (agents.c.name, agents.c.id), descending=False),
    "NAME_DESC": Order("ana-", (agents.c.name, agents.c.id), descending=True),
    "CREATED_AT_DESC": Order("acr-", (agents.c.created_at, agents.c.id), descending=True),
}


@dataclass(frozen=True)
class AgentFilter:
    statuses: tuple[str, ...] = ()
    health: tuple[str, ...] = ()
    capability: str | None = None
    deleted: bool = False


def visible_agents(viewer_id: uuid.UUID | None) -> Select[Any]:
    return visibility.visible_agents(viewer_id, *AGENT_COLUMNS)


def agents_registry(spec_filter: AgentFilter) -> PageSpec:
    """The root `agents` connection (the graph answers null to anonymous viewers before it is read)."""
    where: list[ColumnElement[bool]] = []
    if spec_filter.statuses:
        where.append(agents.c.status.in_(spec_filter.statuses))
    if spec_filter.health:
        where.append(agents.c.health_status.in_(spec_filter.health))
    if spec_filter.capability:
        where.append(agents.c.capabilities.contains([{"name": spec_filter.capability}]))
    registry = literal(REGISTRY).label("registry")
    base = visibility.live_agents(*AGENT_COLUMNS, registry, deleted=spec_filter.deleted)
    return PageSpec(base=base, parent=registry, where=tuple(where))
