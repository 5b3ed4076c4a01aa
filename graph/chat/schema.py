"""The chat mutations. Each commits, then publishes its event to the session's channel."""

from __future__ import annotations

import strawberry

from graph.chat import inputs as i
from graph.chat.events import MessageEventKind, message_event, session_channel
from graph.chat.types import ChatSessionNode, MessageNode
from graph.context import Info
from graph.errors import user_errors
from graph.mutations import in_transaction
from graph.node import input_id
from graph.permissions import IsAuthenticated
from models import Message
from resolvers import chat
from resolvers.problems import Rejected

SIGNED_IN = [IsAuthenticated]


async def _publish(info: Info, kind: MessageEventKind, message: Message) -> None:
    await info.context.resources.events.publish(session_channel(message.session_id), message_event(kind, message))


def _viewer(info: Info):
    assert info.context.viewer is not None  # IsAuthenticated ran first
    return info.context.viewer.user_id


@strawberry.type
class ChatMutation:
    @strawberry.mutation(permission_classes=SIGNED_IN, description="Start a conversation.")
    async def create_chat_session(self, info: Info, input: i.CreateChatSessionInput) -> i.CreateChatSessionPayload:
        context = i.context_document(input.context_data) if input.context_data else {}
        try:
            created = await in_transaction(info, lambda s: chat.create_session(s, _viewer(info), input.title, context))
        except Rejected as rejected:
            return i.CreateChatSessionPayload(errors=user_errors(rejected.problems))
        return i.CreateChatSessionPayload(chat_session=ChatSessionNode.from_row(created))

    @strawberry.mutation(permission_classes=SIGNED_IN)
    async def update_chat_session(self, info: Info, input: i.UpdateChatSessionInput) -> i.UpdateChatSessionPayload:
        context = i.context_document(input.context_data) if input.context_data else None
        try:
            updated = await in_transaction(
                info,
                lambda s: chat.update_session(
                    s, _viewer(info), input_id(input.session_id, "ChatSession"), title=input.title, context=context
                ),
            )
        except Rejected as rejected:
            return i.UpdateChatSessionPayload(errors=user_errors(rejected.problems))
        return i.UpdateChatSessionPayload(chat_session=ChatSessionNode.from_row(updated))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Set aside; archived sessions take no new messages.")
    async def archive_chat_session(self, info: Info, input: i.ArchiveChatSessionInput) -> i.ArchiveChatSessionPayload:
        try:
            updated = await in_transaction(
                info, lambda s: chat.archive_session(s, _viewer(info), input_id(input.session_id, "ChatSession"))
            )
        except Rejected as rejected:
            return i.ArchiveChatSessionPayload(errors=user_errors(rejected.problems))
        return i.ArchiveChatSessionPayload(chat_session=ChatSessionNode.from_row(updated))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Make an archived session active again.")
    async def unarchive_chat_session(
        self, info: Info, input: i.UnarchiveChatSessionInput
    ) -> i.UnarchiveChatSessionPayload:
        try:
            updated = await in_transaction(
                info, lambda s: chat.unarchive_session(s, _viewer(info), input_id(input.session_id, "ChatSession"))
            )
        except Rejected as rejected:
            return i.UnarchiveChatSessionPayload(errors=user_errors(rejected.problems))
        return i.UnarchiveChatSessionPayload(chat_session=ChatSessionNode.from_row(updated))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Soft delete, restorable for 30 days.")
    async def delete_chat_session(self, info: Info, input: i.DeleteChatSessionInput) -> i.DeleteChatSessionPayload:
        try:
            deleted = await in_transaction(
                info, lambda s: chat.delete_session(s, _viewer(info), input_id(input.session_id, "ChatSession"))
            )
        except Rejected as rejected:
            return i.DeleteChatSessionPayload(errors=user_errors(rejected.problems))
        return i.DeleteChatSessionPayload(chat_session=ChatSessionNode.from_row(deleted))

    @strawberry.mutation(permission_classes=SIGNED_IN)
    async def restore_chat_session(self, info: Info, input: i.RestoreChatSessionInput) -> i.RestoreChatSessionPayload:
        try:
            restored = await in_transaction(
                info, lambda s: chat.restore_session(s, _viewer(info), input_id(input.session_id, "ChatSession"))
            )
        except Rejected as rejected:
            return i.RestoreChatSessionPayload(errors=user_errors(rejected.problems))
        return i.RestoreChatSessionPayload(chat_session=ChatSessionNode.from_row(restored))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Add your message to an active session.")
    async def send_message(self, info: Info, input: i.SendMessageInput) -> i.SendMessagePayload:
        attachments = [chat.Attachment(input_id(value, "Document")) for value in input.attachments or []]
        try:
            message = await in_transaction(
                info,
                lambda s: chat.send_message(
                    s, _viewer(info), input_id(input.session_id, "ChatSession"), input.content, attachments
                ),
            )
        except Rejected as rejected:
            return i.SendMessagePayload(errors=user_errors(rejected.problems))
        await _publish(info, MessageEventKind.ADDED, message)
        return i.SendMessagePayload(message=MessageNode.from_row(message))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Change the text of your message.")
    async def edit_message(self, info: Info, input: i.EditMessageInput) -> i.EditMessagePayload:
        try:
            message = await in_transaction(
                info,
                lambda s: chat.edit_message(s, _viewer(info), input_id(input.message_id, "Message"), input.content),
            )
        except Rejected as rejected:
            return i.EditMessagePayload(errors=user_errors(rejected.problems))
        await _publish(info, MessageEventKind.EDITED, message)
        return i.EditMessagePayload(message=MessageNode.from_row(message))

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Soft delete a message.")
    async def delete_message(self, info: Info, input: i.DeleteMessageInput) -> i.DeleteMessagePayload:
        try:
            message = await in_transaction(
                info, lambda s: chat.delete_message(s, _viewer(info), input_id(input.message_id, "Message"))
            )
        except Rejected as rejected:
            return i.DeleteMessagePayload(errors=user_errors(rejected.problems))
        await _publish(info, MessageEventKind.DELETED, message)
        return i.DeleteMessagePayload(message=MessageNode.from_row(message))
