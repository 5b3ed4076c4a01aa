"""Running tasks: `runTask`, `cancelTask`, `retryTask`. The use cases queue the task and publish its event
after the commit."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.mutations import Work, node_answer, signed_in_mutation
from graph.node import input_id
from graph.permissions import viewer_id
from graph.tasks.inputs import RunTaskInput, TaskIdInput
from graph.tasks.types import TaskNode
from models import Task
from resolvers import tasks

TASK = node_answer("task", TaskNode)


@strawberry.type
class TasksMutation:
    @signed_in_mutation(TASK, description="Run one of an agent's tools as a task.")
    def run_task(self, info: Info, input: RunTaskInput) -> Work[Task]:
        request = tasks.TaskRequest(
            agent_id=input_id(input.agent_id, "MCPAgent"),
            task_type=input.task_type,
            input=input.input,
            chat_session_id=input_id(input.chat_session_id, "ChatSession"),
            chat_session_given=input.chat_session_id is not None,
            priority=input.priority,
            scheduled_for=input.scheduled_for,
            dependencies=tuple(input_id(value, "Task") for value in input.dependencies or []),
            notify_on_complete=input.notify_on_complete,
            integration_ids=tuple(input_id(value, "Integration") for value in input.integration_ids or []),
        )
        return lambda uow: tasks.create_task(uow, info.context.redis, viewer_id(info), request)

    @signed_in_mutation(TASK, description="Stop a pending or running task.")
    def cancel_task(self, info: Info, input: TaskIdInput) -> Work[Task]:
        return lambda uow: tasks.cancel_task(uow, viewer_id(info), input_id(input.task_id, "Task"))

    @signed_in_mutation(TASK, description="Run a failed task again.")
    def retry_task(self, info: Info, input: TaskIdInput) -> Work[Task]:
        return lambda uow: tasks.retry_task(uow, viewer_id(info), input_id(input.task_id, "Task"))
