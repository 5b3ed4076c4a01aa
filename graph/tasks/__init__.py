"""Tasks: the Task type, `runTask`/`cancelTask`/`retryTask` and `taskUpdated`."""

from graph.tasks.mutations import TasksMutation
from graph.tasks.subscriptions import TasksSubscription
from graph.tasks.types import TaskNode

__all__ = ["TaskNode", "TasksMutation", "TasksSubscription"]
