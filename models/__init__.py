"""All tables, imported together so alembic and the metadata see every one of them."""

from models.agents import MCPAgent
from models.assistant import AssistantReply
from models.base import metadata
from models.chat import ChatSession, Message
from models.documents import Document, DocumentProcessingLog
from models.integrations import Integration, IntegrationTokenEvent
from models.tasks import Task, TaskLog
from models.users import User

__all__ = [
    "AssistantReply",
    "ChatSession",
    "Document",
    "DocumentProcessingLog",
    "Integration",
    "IntegrationTokenEvent",
    "MCPAgent",
    "Message",
    "Task",
    "TaskLog",
    "User",
    "metadata",
]
