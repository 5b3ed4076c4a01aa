"""Chat inputs: the lists' filters and orders, and the mutations' inputs."""

from __future__ import annotations

from typing import Any

import strawberry

from graph.connection import order_enum
from graph.enums import MessageRole, SessionStatus
from graph.input_limits import MESSAGE, NAME, TITLE, limited
from graph.jsondata import JSON
from loaders.chat import MESSAGE_ORDERS, SESSION_ORDERS, MessageFilter, SessionFilter

ChatSessionOrder = order_enum("ChatSessionOrder", SESSION_ORDERS)
MessageOrder = order_enum("MessageOrder", MESSAGE_ORDERS)


@strawberry.input(
    name="ChatSessionFilter",
    description="Which sessions to list. Without `status`: active and archived ones; "
    "deleted sessions appear only when `status` asks for DELETED.",
)
class ChatSessionFilterInput:
    status: list[SessionStatus] | None = None


def chat_session_filter(filter: ChatSessionFilterInput | None) -> SessionFilter:
    if filter is None or not filter.status:
        return SessionFilter()
    return SessionFilter(statuses=tuple(sorted(set(filter.status))))


@strawberry.input(name="MessageFilter")
class MessageFilterInput:
    role: list[MessageRole] | None = None


def message_filter(filter: MessageFilterInput | None) -> MessageFilter:
    return MessageFilter(roles=tuple(sorted(filter.role or []))) if filter is not None else MessageFilter()


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
    chat_session_id: strawberry.ID = strawberry.field(name="sessionId")
    title: str | None = limited(TITLE, default=None)
    context_data: ChatContextInput | None = None


@strawberry.input
class ChatSessionIdInput:
    chat_session_id: strawberry.ID = strawberry.field(name="sessionId")


@strawberry.input(description="Sessions can be restored for 30 days after deletion.")
class RestoreChatSessionInput(ChatSessionIdInput):
    """Input of `restoreChatSession` (its own, for its description)."""


@strawberry.input
class SendMessageInput:
    chat_session_id: strawberry.ID = strawberry.field(name="sessionId")
    content: str = limited(MESSAGE, description="1 to 10,000 characters.")
    attachments: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Global IDs of your own documents (at most 10)."
    )


@strawberry.input
class EditMessageInput:
    message_id: strawberry.ID
    content: str = limited(MESSAGE)


@strawberry.input
class MessageIdInput:
    message_id: strawberry.ID
