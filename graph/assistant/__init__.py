"""The assistant: `assistant { enabled model }`, `regenerateReply` and `confirmAction`. Its replies reach
clients through the chat's subscriptions (graph/chat/subscriptions.py)."""

from graph.assistant.mutations import AssistantMutation
from graph.assistant.queries import AssistantQuery

__all__ = ["AssistantMutation", "AssistantQuery"]
