"""Inputs and payloads of the chat mutations."""

from __future__ import annotations

from typing import Any

import strawberry

from graph.chat.types import ChatSessionNode, MessageNode
from graph.errors import UserError
from graph.input_limits import MESSAGE, NAME, TITLE, limited
from graph.jsondata import JSON


@strawberry.input
class BusinessContextInput:
    current_project: str | None = limited(TITLE, default=None)
    client_info: JSON | None = None
    task_type: str | None = limited(NAME, default=None)


@strawberry.input
class AiContextInput:
    personality: str | None = limited(NAME, default=None)
    memory: list[JSON] | None = None
    preferences: JSON | None = None


@strawberry.input
class IntegrationContextInput:
    active_connections: list[str] | None = limited(NAME, default=None)
    recent_tasks: list[JSON] | None = None


@strawberry.input(description="What the assistant should know about the conversation (typed ChatContext).")
class ChatContextInput:
    business_context: BusinessContextInput | None = None
    ai_context: AiContextInput | None = None
    integration_context: IntegrationContextInput | None = None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def context_document(value: Any) -> Any:
    """A typed input as the stored camelCase JSON document (unset and null members left out)."""
    if isinstance(value, list):
        return [context_document(item) for item in value]
    if hasattr(value, "__strawberry_definition__"):
        return {
            _camel(name): context_document(member)
            for name, member in vars(value).items()
            if member is not None and member is not strawberry.UNSET
        }
    return value


@strawberry.input
class CreateChatSessionInput:
    title: str | None = limited(TITLE, default=None, description="Up to 255 characters.")
    context_data: ChatContextInput | None = None


@strawberry.input(description="Only what is given changes; an empty title clears it.")
class UpdateChatSessionInput:
    session_id: strawberry.ID
    title: str | None = limited(TITLE, default=None)
    context_data: ChatContextInput | None = None


@strawberry.input
class ArchiveChatSessionInput:
    session_id: strawberry.ID


@strawberry.input
class UnarchiveChatSessionInput:
    session_id: strawberry.ID


@strawberry.input
class DeleteChatSessionInput:
    session_id: strawberry.ID


@strawberry.input(description="Sessions can be restored for 30 days after deletion.")
class RestoreChatSessionInput:
    session_id: strawberry.ID


@strawberry.input
class SendMessageInput:
    session_id: strawberry.ID
    content: str = limited(MESSAGE, description="1 to 10,000 characters.")
    attachments: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Global IDs of your own documents (at most 10)."
    )


@strawberry.input
class EditMessageInput:
    message_id: strawberry.ID
    content: str = limited(MESSAGE)


@strawberry.input
class DeleteMessageInput:
    message_id: strawberry.ID


@strawberry.type
class ChatSessionPayload:
    chat_session: ChatSessionNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MessagePayload:
    message: MessageNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateChatSessionPayload(ChatSessionPayload):
    """Answer of `createChatSession`."""


@strawberry.type
class UpdateChatSessionPayload(ChatSessionPayload):
    """Answer of `updateChatSession`."""


@strawberry.type
class ArchiveChatSessionPayload(ChatSessionPayload):
    """Answer of `archiveChatSession`."""


@strawberry.type
class UnarchiveChatSessionPayload(ChatSessionPayload):
    """Answer of `unarchiveChatSession`."""


@strawberry.type
class DeleteChatSessionPayload(ChatSessionPayload):
    """Answer of `deleteChatSession`."""


@strawberry.type
class RestoreChatSessionPayload(ChatSessionPayload):
    """Answer of `restoreChatSession`."""


@strawberry.type
class SendMessagePayload(MessagePayload):
    """Answer of `sendMessage`."""


@strawberry.type
class EditMessagePayload(MessagePayload):
    """Answer of `editMessage`."""


@strawberry.type
class DeleteMessagePayload(MessagePayload):
    """Answer of `deleteMessage`."""
