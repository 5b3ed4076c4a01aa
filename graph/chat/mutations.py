"""The chat mutations. The message use cases publish their events after the commit."""

from __future__ import annotations

import uuid

import strawberry

from graph.chat.inputs import (
    ChatSessionIdInput,
    CreateChatSessionInput,
    EditMessageInput,
    MessageIdInput,
    RestoreChatSessionInput,
    SendMessageInput,
    UpdateChatSessionInput,
    context_document,
)
from graph.chat.types import ChatSessionNode, MessageNode
from graph.context import Info
from graph.mutations import Work, node_answer, signed_in_mutation
from graph.node import input_id
from graph.permissions import viewer_id
from models import ChatSession, Message
from resolvers import assistant, chat
from resolvers.unit_of_work import UnitOfWork

CHAT_SESSION = node_answer("chat_session", ChatSessionNode)
MESSAGE = node_answer("message", MessageNode)


def _chat_session_id(input: ChatSessionIdInput | UpdateChatSessionInput | SendMessageInput) -> uuid.UUID | None:
    return input_id(input.chat_session_id, "ChatSession")


@strawberry.type
class ChatMutation:
    @signed_in_mutation(CHAT_SESSION, description="Start a conversation.")
    def create_chat_session(self, info: Info, input: CreateChatSessionInput) -> Work[ChatSession]:
        context = context_document(input.context_data) if input.context_data else {}
        return lambda uow: chat.create_chat_session(uow.db, viewer_id(info), input.title, context)

    @signed_in_mutation(CHAT_SESSION)
    def update_chat_session(self, info: Info, input: UpdateChatSessionInput) -> Work[ChatSession]:
        context = context_document(input.context_data) if input.context_data else None
        chat_session_id = _chat_session_id(input)
        return lambda uow: chat.update_chat_session(
            uow.db, viewer_id(info), chat_session_id, title=input.title, context=context
        )

    @signed_in_mutation(CHAT_SESSION, description="Set aside; archived sessions take no new messages.")
    def archive_chat_session(self, info: Info, input: ChatSessionIdInput) -> Work[ChatSession]:
        return lambda uow: chat.archive_chat_session(uow.db, viewer_id(info), _chat_session_id(input))

    @signed_in_mutation(CHAT_SESSION, description="Make an archived session active again.")
    def unarchive_chat_session(self, info: Info, input: ChatSessionIdInput) -> Work[ChatSession]:
        return lambda uow: chat.unarchive_chat_session(uow.db, viewer_id(info), _chat_session_id(input))

    @signed_in_mutation(CHAT_SESSION, description="Soft delete, restorable for 30 days.")
    def delete_chat_session(self, info: Info, input: ChatSessionIdInput) -> Work[ChatSession]:
        return lambda uow: chat.delete_chat_session(uow.db, viewer_id(info), _chat_session_id(input))

    @signed_in_mutation(CHAT_SESSION)
    def restore_chat_session(self, info: Info, input: RestoreChatSessionInput) -> Work[ChatSession]:
        return lambda uow: chat.restore_chat_session(uow.db, viewer_id(info), _chat_session_id(input))

    @signed_in_mutation(
        MESSAGE,
        description="Add your message to an active session; the assistant, when enabled, answers it "
        "(streamed in `chatSessionEvents`).",
    )
    def send_message(self, info: Info, input: SendMessageInput) -> Work[Message]:
        attachments = [chat.Attachment(input_id(value, "Document")) for value in input.attachments or []]
        options = assistant.reply_options(info.context.resources)
        user_id, session_id = viewer_id(info), _chat_session_id(input)

        async def work(uow: UnitOfWork) -> Message:
            message = await chat.send_message(uow, user_id, session_id, input.content, attachments)
            assistant.request_reply(uow, user_id, message, options)
            return message

        return work

    @signed_in_mutation(MESSAGE, description="Change the text of your message.")
    def edit_message(self, info: Info, input: EditMessageInput) -> Work[Message]:
        return lambda uow: chat.edit_message(uow, viewer_id(info), input_id(input.message_id, "Message"), input.content)

    @signed_in_mutation(MESSAGE, description="Soft delete a message.")
    def delete_message(self, info: Info, input: MessageIdInput) -> Work[Message]:
        return lambda uow: chat.delete_message(uow, viewer_id(info), input_id(input.message_id, "Message"))
