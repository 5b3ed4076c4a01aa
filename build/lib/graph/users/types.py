"""The User type: the person, their business, preferences and their lists."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import strawberry

from graph.chat.types import ChatSessionFilter, ChatSessionNode, ChatSessionOrder, sessions_connection
from graph.connection import Connection
from graph.context import Info
from graph.documents import DocumentFilterInput, DocumentNode, DocumentOrder, documents_connection
from graph.integrations import (
    IntegrationFilterInput,
    IntegrationNode,
    IntegrationOrder,
    integrations_connection,
)
from graph.jsondata import from_json
from graph.node import Node, build, columns, register_node
from graph.tasks import TaskFilterInput, TaskNode, TaskOrder, task_connection
from models.users import AiPersonality, BusinessType, UserRole, default_preferences

BusinessTypeEnum = strawberry.enum(BusinessType, name="BusinessType", description="The predefined business types.")
AiPersonalityEnum = strawberry.enum(AiPersonality, name="AiPersonality")
UserRoleEnum = strawberry.enum(UserRole, name="UserRole")
_DEFAULTS = default_preferences()


@strawberry.type
class NotificationPreferences:
    email: bool = _DEFAULTS["notifications"]["email"]
    push: bool = _DEFAULTS["notifications"]["push"]
    sms: bool = _DEFAULTS["notifications"]["sms"]


@strawberry.type
class AiPreferences:
    personality: AiPersonalityEnum = AiPersonality.PROFESSIONAL
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
    COLUMNS: ClassVar[dict[str, str]] = columns(
        "email",
        "first_name",
        "last_name",
        "business_name",
        "phone",
        "timezone",
        "email_verified",
        "email_verified_at",
        "last_login_at",
        "created_at",
        "updated_at",
        raw_business_type="business_type",
        raw_preferences="preferences",
        raw_role="role",
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

    @classmethod
    def from_row(cls, row: Any) -> UserNode:
        return build(cls, "User", row)

    @strawberry.field
    def business_type(self) -> BusinessTypeEnum | None:
        return _business_type(self.raw_business_type)

    @strawberry.field
    def preferences(self) -> UserPreferences:
        return from_json(UserPreferences, self.raw_preferences)

    @strawberry.field(description="Chat sessions, most recently active first by default.")
    async def chat_sessions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ChatSessionFilter | None = None,
        order_by: ChatSessionOrder = ChatSessionOrder.LAST_ACTIVITY_DESC,
    ) -> Connection[ChatSessionNode]:
        return await sessions_connection(info, self.pk, first, after, last, before, filter, order_by)

    @strawberry.field(description="Documents, most recently uploaded first by default.")
    async def documents(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: DocumentFilterInput | None = None,
        order_by: DocumentOrder = DocumentOrder.UPLOADED_AT_DESC,
    ) -> Connection[DocumentNode]:
        return await documents_connection(info, self.pk, first, after, last, before, filter, order_by)

    @strawberry.field(description="Connected applications, by provider by default.")
    async def integrations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: IntegrationFilterInput | None = None,
        order_by: IntegrationOrder = IntegrationOrder.PROVIDER_ASC,
    ) -> Connection[IntegrationNode]:
        return await integrations_connection(info, self.pk, first, after, last, before, filter, order_by)

    @strawberry.field(description="`user` or `operator` (operators change the shared agent registry).")
    def role(self) -> UserRoleEnum:
        return UserRole(self.raw_role) if self.raw_role in UserRole.__members__.values() else UserRole.USER

    @strawberry.field(description="Tasks, most recently started first by default.")
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
            info, info.context.loaders.tasks_of_user, self.pk, first, after, last, before, filter, order_by
        )


async def _fetch_users(info: Info, pks: list[uuid.UUID]) -> list[UserNode | None]:
    rows = await info.context.loaders.users.load_many(pks)
    return [UserNode.from_row(row) if row is not None else None for row in rows]


register_node("User", _fetch_users)
