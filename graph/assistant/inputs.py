"""The assistant mutations' inputs."""

from __future__ import annotations

import strawberry


@strawberry.input(description="A user's message, or the assistant's reply or failure note about it.")
class RegenerateReplyInput:
    message_id: strawberry.ID


@strawberry.input
class ConfirmActionInput:
    message_id: strawberry.ID = strawberry.field(description="The assistant's message that proposed the action.")
    action_index: int = strawberry.field(description="The action's position in `metadata.actions`, from 0.")
