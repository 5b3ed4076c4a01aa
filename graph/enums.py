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

strawberry.enum(ErrorCode, description="Stable codes of UserError.")
strawberry.enum(BusinessType, description="The predefined business types.")
strawberry.enum(TaskLogEvent, description="What a line of a task's log records.")
strawberry.enum(
    TokenEventOutcome,
    name="IntegrationTokenEventOutcome",
    description="`REFUSED`: the provider answered with an OAuth error; `UNAVAILABLE`: network, timeout or 5xx; "
    "`UNSUPPORTED`: the provider offers no revocation.",
)
# Named in the graph as in the model.
for same_name in (
    AiPersonality,
    UserRole,
    MessageRole,
    AgentStatus,
    TaskStatus,
    TaskPriority,
    IntegrationProvider,
    IntegrationStatus,
):
    strawberry.enum(same_name)
# The model leaves out the domain its name has in the graph.
for model_enum, graph_name in (
    (SessionStatus, "ChatSessionStatus"),
    (HealthStatus, "AgentHealthStatus"),
    (AuthenticationType, "AgentAuthenticationType"),
    (ProcessingStatus, "DocumentProcessingStatus"),
    (ProcessingLogEvent, "DocumentProcessingLogEvent"),
    (TokenEventKind, "IntegrationTokenEventKind"),
):
    strawberry.enum(model_enum, name=graph_name)

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
