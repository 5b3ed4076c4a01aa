"""Documents: the node, upload and management mutations, search, live updates."""

from graph.documents.mutations import DocumentsMutation
from graph.documents.subscriptions import DocumentsSubscription
from graph.documents.types import DocumentNode

__all__ = ["DocumentNode", "DocumentsMutation", "DocumentsSubscription"]
