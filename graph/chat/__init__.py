"""Chat: sessions, messages, their mutations and live subscriptions."""

from graph.chat.mutations import ChatMutation
from graph.chat.subscriptions import ChatSubscription
from graph.chat.types import ChatSessionNode, MessageNode

__all__ = ["ChatMutation", "ChatSessionNode", "ChatSubscription", "MessageNode"]
