"""The chat mutations. The message use cases publish their events after the commit."""

from __future__ import annotations

import uuid

import strawberry

from graph.chat import inputs as i
from graph.chat.types import ChatSessionNode, MessageNode
from graph.context import Info
from graph.mutations import mutate
from graph.node import input_id
from graph.permissions import IsAuthenticated
from resolvers import chat

SIGNED_IN = [IsAuthenticated]


def _viewer(info: Info) -> uuid.UUID:
    assert info.context.viewer is not None  # IsAuthenticated ran first
    return info.context.viewer.user_id


@strawberry.type
class ChatMutation:
    @strawberry.mutation(permission_classes=SIGNED_IN, description="Start a conversation.")
    async def create_chat_session(self, info: Info, input: i.CreateChatSessionInput) -> i.CreateChatSessionPayload:
        context = i.context_document(input.context_data) if input.context_data else {}
        return await mutate(
            info,
            lambda uow: chat.create_session(uow.db, _viewer(info), input.title, context),
            lambda row: i.CreateChatSessionPayload(chat_session=ChatSessionNode.from_row(row)),
            i.CreateChatSessionPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN)
    async def update_chat_session(self, info: Info, input: i.UpdateChatSessionInput) -> i.UpdateChatSessionPayload:
        context = i.context_document(input.context_data) if input.context_data else None
        return await mutate(
            info,
            lambda uow: chat.update_session(
                uow.db, _viewer(info), input_id(input.session_id, "ChatSession"), title=input.title, context=context
            ),
            lambda row: i.UpdateChatSessionPayload(chat_session=ChatSessionNode.from_row(row)),
            i.UpdateChatSessionPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Set aside; archived sessions take no new messages.")
    async def archive_chat_session(self, info: Info, input: i.ArchiveChatSessionInput) -> i.ArchiveChatSessionPayload:
        return await mutate(
            info,
            lambda uow: chat.archive_session(uow.db, _viewer(info), input_id(input.session_id, "ChatSession")),
            lambda row: i.ArchiveChatSessionPayload(chat_session=ChatSessionNode.from_row(row)),
            i.ArchiveChatSessionPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Make an archived session active again.")
    async def unarchive_chat_session(
        self, info: Info, input: i.UnarchiveChatSessionInput
    ) -> i.UnarchiveChatSessionPayload:
        return await mutate(
            info,
            lambda uow: chat.unarchive_session(uow.db, _viewer(info), input_id(input.session_id, "ChatSession")),
            lambda row: i.UnarchiveChatSessionPayload(chat_session=ChatSessionNode.from_row(row)),
            i.UnarchiveChatSessionPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Soft delete, restorable for 30 days.")
    async def delete_chat_session(self, info: Info, input: i.DeleteChatSessionInput) -> i.DeleteChatSessionPayload:
        return await mutate(
            info,
            lambda uow: chat.delete_session(uow.db, _viewer(info), input_id(input.session_id, "ChatSession")),
            lambda row: i.DeleteChatSessionPayload(chat_session=ChatSessionNode.from_row(row)),
            i.DeleteChatSessionPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN)
    async def restore_chat_session(self, info: Info, input: i.RestoreChatSessionInput) -> i.RestoreChatSessionPayload:
        return await mutate(
            info,
            lambda uow: chat.restore_session(uow.db, _viewer(info), input_id(input.session_id, "ChatSession")),
            lambda row: i.RestoreChatSessionPayload(chat_session=ChatSessionNode.from_row(row)),
            i.RestoreChatSessionPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Add your message to an active session.")
    async def send_message(self, info: Info, input: i.SendMessageInput) -> i.SendMessagePayload:
        attachments = [chat.Attachment(input_id(value, "Document")) for value in input.attachments or []]
        return await mutate(
            info,
            lambda uow: chat.send_message(
                uow, _viewer(info), input_id(input.session_id, "ChatSession"), input.content, attachments
            ),
            lambda row: i.SendMessagePayload(message=MessageNode.from_row(row)),
            i.SendMessagePayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Change the text of your message.")
    async def edit_message(self, info: Info, input: i.EditMessageInput) -> i.EditMessagePayload:
        return await mutate(
            info,
            lambda uow: chat.edit_message(uow, _viewer(info), input_id(input.message_id, "Message"), input.content),
            lambda row: i.EditMessagePayload(message=MessageNode.from_row(row)),
            i.EditMessagePayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Soft delete a message.")
    async def delete_message(self, info: Info, input: i.DeleteMessageInput) -> i.DeleteMessagePayload:
        return await mutate(
            info,
            lambda uow: chat.delete_message(uow, _viewer(info), input_id(input.message_id, "Message")),
            lambda row: i.DeleteMessagePayload(message=MessageNode.from_row(row)),
            i.DeleteMessagePayload,
        )
