"""The assistant's root field."""

from __future__ import annotations

import strawberry

from graph.assistant.types import Assistant
from graph.context import Info


@strawberry.type
class AssistantQuery:
    @strawberry.field(description="Whether the assistant answers on this gateway, and with which model.")
    def assistant(self, info: Info) -> Assistant:
        provider = info.context.resources.assistant
        return Assistant(enabled=provider is not None, model=provider.model if provider is not None else None)
