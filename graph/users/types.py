"""The User type: the person, their business, preferences and their lists."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

import strawberry

from graph.chat.types import CHAT_SESSIONS
from graph.context import Info
from graph.documents.queries import DocumentSearchConnection, document_search
from graph.documents.types import DOCUMENTS, DocumentFilterInput
from graph.enums import AiPersonality, BusinessType, UserRole
from graph.input_limits import MAX_LENGTH
from graph.integrations.types import INTEGRATIONS
from graph.jsondata import json_field
from graph.node import Node, field_columns, register_node_type
from graph.tasks.types import TASKS
from models.users import default_preferences
from resolvers.document_search import QUERY_MAX

_DEFAULTS = default_preferences()


@strawberry.type
class NotificationPreferences:
    email: bool = _DEFAULTS["notifications"]["email"]
    push: bool = _DEFAULTS["notifications"]["push"]
    sms: bool = _DEFAULTS["notifications"]["sms"]


@strawberry.type
class AiPreferences:
    personality: AiPersonality = AiPersonality.PROFESSIONAL
    proactive_mode: bool = _DEFAULTS["ai"]["proactiveMode"]
    auto_suggestions: bool = _DEFAULTS["ai"]["autoSuggestions"]


@strawberry.type
class IntegrationPreferences:
    auto_connect: bool = _DEFAULTS["integrations"]["autoConnect"]
    default_calendar: str | None = None
    default_email: str | None = None


@strawberry.type
class UserPreferences:
    notifications: NotificationPreferences = strawberry.field(default_factory=NotificationPreferences)
    ai: AiPreferences = strawberry.field(default_factory=AiPreferences)
    integrations: IntegrationPreferences = strawberry.field(default_factory=IntegrationPreferences)


def _business_type(value: str | None) -> BusinessType | None:
    try:
        return BusinessType(value) if value is not None else None
    except ValueError:
        return None


@strawberry.type(name="User", description="An account: the person and their business.")
class UserNode(Node):
    COLUMNS: ClassVar[dict[str, str]] = field_columns(
        raw_business_type="business_type", raw_preferences="preferences", raw_role="role"
    )
    pk: strawberry.Private[uuid.UUID]
    raw_business_type: strawberry.Private[str | None]
    raw_preferences: strawberry.Private[Any]
    raw_role: strawberry.Private[str]
    email: str
    first_name: str
    last_name: str
    business_name: str | None
    phone: str | None
    timezone: str
    email_verified: bool
    email_verified_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @strawberry.field
    def business_type(self) -> BusinessType | None:
        return _business_type(self.raw_business_type)

    preferences = json_field(UserPreferences, "raw_preferences")

    chat_sessions = CHAT_SESSIONS.field(
        lambda loaders: loaders.sessions_of_user, "Chat sessions, most recently active first by default."
    )
    documents = DOCUMENTS.field(
        lambda loaders: loaders.documents_of_user, "Documents, most recently uploaded first by default."
    )

    @strawberry.field(
        description="Your documents matching `query` (web-search syntax: quoted phrases, `or`, `-word`), "
        "over title and text, best first."
    )
    async def document_search(
        self,
        info: Info,
        query: Annotated[str, strawberry.argument(metadata={MAX_LENGTH: QUERY_MAX})],
        first: int | None = None,
        after: str | None = None,
        filter: DocumentFilterInput | None = None,
    ) -> DocumentSearchConnection:
        return await document_search(info, self.pk, query, first, after, filter)

    integrations = INTEGRATIONS.field(
        lambda loaders: loaders.integrations_of_user, "Connected applications, by provider by default."
    )

    @strawberry.field(description="`user` or `operator` (operators change the shared agent registry).")
    def role(self) -> UserRole:
        return UserRole(self.raw_role) if self.raw_role in UserRole.__members__.values() else UserRole.USER

    tasks = TASKS.field(lambda loaders: loaders.tasks_of_user, "Tasks, most recently started first by default.")


register_node_type(UserNode, lambda loaders: loaders.users)
