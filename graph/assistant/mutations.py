"""The assistant mutations: answer again, and run what the assistant proposed."""

from __future__ import annotations

from typing import Any

import strawberry

from graph.assistant.inputs import ConfirmActionInput, RegenerateReplyInput
from graph.chat.types import MessageNode
from graph.context import Info
from graph.mutations import Answer, Work, node_answer, signed_in_mutation
from graph.node import input_id
from graph.permissions import viewer_id
from graph.tasks.types import TaskNode
from models import Message, Task
from resolvers import assistant

MESSAGE = node_answer("message", MessageNode)
CONFIRMED: Answer[tuple[Message, Task]] = Answer(
    {"message": MessageNode | None, "task": TaskNode | None},
    lambda result: {"message": MessageNode.from_row(result[0]), "task": TaskNode.from_row(result[1])},
)


@strawberry.type
class AssistantMutation:
    @signed_in_mutation(
        MESSAGE,
        description="Ask the assistant to answer a message again (after a failure, or for another answer). "
        "Answers the user's message; the reply streams in `chatSessionEvents` like any other.",
    )
    def regenerate_reply(self, info: Info, input: RegenerateReplyInput) -> Work[Message]:
        options = assistant.reply_options(info.context.resources)
        message_id = input_id(input.message_id, "Message")
        return lambda uow: assistant.regenerate_reply(uow, viewer_id(info), message_id, options)

    @signed_in_mutation(
        CONFIRMED,
        description="Run an action the assistant proposed as a task of the session; confirming it again "
        "answers the same task.",
    )
    def confirm_action(self, info: Info, input: ConfirmActionInput) -> Work[Any]:
        redis = info.context.resources.redis
        message_id = input_id(input.message_id, "Message")
        return lambda uow: assistant.confirm_action(uow, redis, viewer_id(info), message_id, input.action_index)
