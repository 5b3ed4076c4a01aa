"""The assistant's own type: whether it answers, and with which model."""

from __future__ import annotations

import strawberry


@strawberry.type(description="The assistant that answers in chat sessions.")
class Assistant:
    enabled: bool = strawberry.field(
        description="False when no provider is configured (GATEWAY_ASSISTANT_URL unset): nothing answers."
    )
    model: str | None = strawberry.field(description="The provider's model that writes the replies.")
