"""Chat types: ChatSession, Message, their typed JSON and their connections."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from graph.chat.inputs import (
    ChatSessionFilterInput,
    ChatSessionOrder,
    MessageFilterInput,
    MessageOrder,
    chat_session_filter,
    message_filter,
)
from graph.connection import Listing
from graph.context import Info
from graph.enums import MessageRole, SessionStatus
from graph.jsondata import JSON, from_json, json_field
from graph.node import Node, field_columns, global_id, load_node, register_node_type
from graph.tasks.types import TASKS
from loaders.chat import MESSAGE_ORDERS, SESSION_ORDERS

if TYPE_CHECKING:
    from graph.documents import DocumentNode


@strawberry.type
class BusinessContext:
    current_project: str | None = None
    client_info: JSON | None = None
    task_type: str | None = None


@strawberry.type
class AiContext:
    personality: str | None = None
    memory: list[JSON] = strawberry.field(default_factory=list)
    preferences: JSON | None = None


@strawberry.type
class IntegrationContext:
    active_connections: list[str] = strawberry.field(default_factory=list)
    recent_tasks: list[JSON] = strawberry.field(default_factory=list)


@strawberry.type(description="What the assistant knows about a conversation.")
class ChatContext:
    business_context: BusinessContext | None = None
    ai_context: AiContext | None = None
    integration_context: IntegrationContext | None = None


@strawberry.type
class MessageAttachment:
    type: str = ""
    url: str = ""
    name: str = ""
    size: int = strawberry.field(default=0, description="Bytes.")
    document_id: strawberry.Private[str | None] = None

    @strawberry.field(description="The attached document, while it exists and is yours.")
    async def document(self, info: Info) -> Annotated[DocumentNode, strawberry.lazy("graph.documents")] | None:
        from graph.documents import DocumentNode

        try:
            pk = uuid.UUID(self.document_id) if self.document_id else None
        except ValueError:
            return None
        return await load_node(DocumentNode, info.context.loaders.documents, pk)


@strawberry.type
class MessageAction:
    type: str = ""
    payload: JSON | None = None
    completed: bool = False


@strawberry.type
class AiMetadata:
    model: str | None = None
    temperature: float | None = None
    confidence: float | None = None
    intent: str | None = None
    entities: list[JSON] = strawberry.field(default_factory=list)


@strawberry.enum(description="Why the assistant could not answer (on its SYSTEM message).")
class AssistantErrorCode(Enum):
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    PROVIDER_TIMEOUT = "PROVIDER_TIMEOUT"
    PROVIDER_REFUSED = "PROVIDER_REFUSED"
    MALFORMED_STREAM = "MALFORMED_STREAM"
    BUDGET_SPENT = "BUDGET_SPENT"
    INTERNAL = "INTERNAL"


@strawberry.type
class AssistantError:
    code: AssistantErrorCode
    message: str = ""


@strawberry.type
class MessageMetadata:
    attachments: list[MessageAttachment] = strawberry.field(default_factory=list)
    suggestions: list[str] = strawberry.field(default_factory=list)
    actions: list[MessageAction] = strawberry.field(default_factory=list)
    ai_metadata: AiMetadata | None = None
    reply_to: strawberry.ID | None = strawberry.field(
        default=None, description="On the assistant's replies and failure notes: the user's message answered."
    )
    error: AssistantError | None = strawberry.field(
        default=None, description="On a SYSTEM message: why the assistant could not answer."
    )


def _global(type_name: str, key: Any) -> strawberry.ID | None:
    try:
        return strawberry.ID(global_id(type_name, uuid.UUID(str(key)))) if key else None
    except ValueError:
        return None


@strawberry.type(name="Message", description="One message of a chat session.")
class MessageNode(Node):
    COLUMNS: ClassVar[dict[str, str]] = field_columns(raw_metadata="metadata")
    pk: strawberry.Private[uuid.UUID]
    session_id: strawberry.Private[uuid.UUID]
    raw_metadata: strawberry.Private[dict[str, Any] | None]
    role: MessageRole
    content: str
    token_count: int | None
    processing_time_ms: int | None
    timestamp: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    seq: int = strawberry.field(
        description="Position in the session: 1, 2, 3... without gaps, in the order messages were committed."
    )

    @strawberry.field(description="Typed metadata: attachments, suggestions, actions, AI details.")
    def metadata(self) -> MessageMetadata:
        metadata = from_json(MessageMetadata, self.raw_metadata)
        # Stored as keys; the graph hands out global IDs.
        metadata.reply_to = _global("Message", metadata.reply_to)
        for action in metadata.actions:
            if isinstance(action.payload, dict):
                payload = dict(action.payload)
                for key, type_name in (("agentId", "MCPAgent"), ("taskId", "Task")):
                    if key in payload:
                        payload[key] = _global(type_name, payload[key])
                action.payload = payload
        return metadata

    @strawberry.field(description="The session this message belongs to.")
    async def session(self, info: Info) -> ChatSessionNode | None:
        return await load_node(ChatSessionNode, info.context.loaders.chat_sessions, self.session_id)


MESSAGES = Listing(MessageNode, MessageFilterInput, MessageOrder["OLDEST_FIRST"], message_filter, MESSAGE_ORDERS)


@strawberry.type(name="ChatSession", description="A conversation between the user and the assistant.")
class ChatSessionNode(Node):
    COLUMNS: ClassVar[dict[str, str]] = field_columns(raw_context="context_data")
    pk: strawberry.Private[uuid.UUID]
    raw_context: strawberry.Private[dict[str, Any] | None]
    title: str | None
    status: SessionStatus
    message_count: int
    last_activity_at: datetime
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    context_data = json_field(ChatContext, "raw_context")

    messages = MESSAGES.field(lambda loaders: loaders.messages_of_session, "Messages, oldest first by default.")
    tasks = TASKS.field(
        lambda loaders: loaders.tasks_of_session, "Tasks run from this session, newest first by default."
    )


CHAT_SESSIONS = Listing(
    ChatSessionNode, ChatSessionFilterInput, ChatSessionOrder["LAST_ACTIVITY_DESC"], chat_session_filter, SESSION_ORDERS
)


register_node_type(ChatSessionNode, lambda loaders: loaders.chat_sessions)
register_node_type(MessageNode, lambda loaders: loaders.messages)
