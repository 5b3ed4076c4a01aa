"""The model enums the graph shows, each registered once here under its GraphQL name.

`strawberry.enum` registers the class itself, so the graph uses the models' enums as they are: no
alias (`ChatSessionStatus` for `SessionStatus`), and an argument arrives as the model's member (no
`TaskPriority(input.priority.value)`). Graph modules import the enums from here, which makes sure they
are registered before any type uses them.
"""

from __future__ import annotations

import strawberry

from models.agents import AgentStatus, AuthenticationType, HealthStatus
from models.chat import MessageRole, SessionStatus
from models.documents import ProcessingLogEvent, ProcessingStatus
from models.integrations import IntegrationProvider, IntegrationStatus, TokenEventKind, TokenEventOutcome
from models.tasks import TaskLogEvent, TaskPriority, TaskStatus
from models.users import AiPersonality, BusinessType, UserRole
from resolvers.problems import ErrorCode

strawberry.enum(ErrorCode, name="ErrorCode", description="Stable codes of UserError.")
strawberry.enum(BusinessType, name="BusinessType", description="The predefined business types.")
strawberry.enum(AiPersonality, name="AiPersonality")
strawberry.enum(UserRole, name="UserRole")
strawberry.enum(SessionStatus, name="ChatSessionStatus")
strawberry.enum(MessageRole, name="MessageRole")
strawberry.enum(AgentStatus, name="AgentStatus")
strawberry.enum(HealthStatus, name="AgentHealthStatus")
strawberry.enum(AuthenticationType, name="AgentAuthenticationType")
strawberry.enum(TaskStatus, name="TaskStatus")
strawberry.enum(TaskPriority, name="TaskPriority")
strawberry.enum(TaskLogEvent, name="TaskLogEvent", description="What a line of a task's log records.")
strawberry.enum(ProcessingStatus, name="DocumentProcessingStatus")
strawberry.enum(ProcessingLogEvent, name="DocumentProcessingLogEvent")
strawberry.enum(IntegrationProvider, name="IntegrationProvider")
strawberry.enum(IntegrationStatus, name="IntegrationStatus")
strawberry.enum(TokenEventKind, name="IntegrationTokenEventKind")
strawberry.enum(
    TokenEventOutcome,
    name="IntegrationTokenEventOutcome",
    description="`REFUSED`: the provider answered with an OAuth error; `UNAVAILABLE`: network, timeout or 5xx; "
    "`UNSUPPORTED`: the provider offers no revocation.",
)

__all__ = [
    "AgentStatus",
    "AiPersonality",
    "AuthenticationType",
    "BusinessType",
    "ErrorCode",
    "HealthStatus",
    "IntegrationProvider",
    "IntegrationStatus",
    "MessageRole",
    "ProcessingLogEvent",
    "ProcessingStatus",
    "SessionStatus",
    "TaskLogEvent",
    "TaskPriority",
    "TaskStatus",
    "TokenEventKind",
    "TokenEventOutcome",
    "UserRole",
]
