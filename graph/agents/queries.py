"""The registry's root: `agents` (signed-in users; null when anonymous)."""

from __future__ import annotations

import strawberry

from graph.agents.types import AGENTS
from graph.connection import connection_field
from loaders.agents import REGISTRY


@strawberry.type
class AgentsQuery:
    agents = connection_field(
        AGENTS,
        AGENTS.builder(lambda loaders: loaders.agents_registry),
        description="The shared MCP agent registry (signed-in users; null when anonymous).",
        parent_id=lambda root, info: REGISTRY if info.context.viewer is not None else None,
        nullable=True,
    )
