"""GraphQL documents and helpers of the assistant tests: send a message and read the reply as a phone
would, over a socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from tests.graphql_client import GraphQLClient, SignedUp
from tests.ws import TransportSocket

ERRORS = "errors { field code message }"
REPLY_FIELDS = """id role content seq tokenCount processingTimeMs
metadata {
  replyTo suggestions
  aiMetadata { model temperature confidence intent entities }
  attachments { name type size document { id } }
  actions { type payload completed }
  error { code message }
}"""
EVENTS = f"""subscription($id: ID!) {{ chatSessionEvents(sessionId: $id) {{
  __typename
  ... on MessageDelta {{ replyTo index delta }}
  ... on MessageAdded {{ message {{ {REPLY_FIELDS} }} }}
  ... on MessageEdited {{ message {{ {REPLY_FIELDS} }} }}
}} }}"""
ADDED = (
    f"""subscription($id: ID!, $after: String) {{ messageAdded(sessionId: $id, after: $after) {{ {REPLY_FIELDS} }} }}"""
)
CREATE_SESSION = f"""mutation($input: CreateChatSessionInput!) {{
  createChatSession(input: $input) {{ chatSession {{ id }} {ERRORS} }} }}"""
SEND = f"""mutation($input: SendMessageInput!) {{ sendMessage(input: $input) {{ message {{ id seq }} {ERRORS} }} }}"""
REGENERATE = f"""mutation($input: RegenerateReplyInput!) {{
  regenerateReply(input: $input) {{ message {{ id role }} {ERRORS} }} }}"""
CONFIRM = f"""mutation($input: ConfirmActionInput!) {{
  confirmAction(input: $input) {{
    message {{ {REPLY_FIELDS} }} task {{ id status taskType inputPayload }} {ERRORS} }} }}"""
MESSAGES = f"""query($id: ID!) {{ node(id: $id) {{ ... on ChatSession {{
  messages(first: 100) {{ edges {{ cursor node {{ {REPLY_FIELDS} }} }} }}
  tasks(first: 20) {{ nodes {{ id taskType status outputPayload }} }}
}} }} }}"""
ASSISTANT = "{ assistant { enabled model } }"


async def new_session(client: GraphQLClient, user: SignedUp, **fields: Any) -> str:
    payload = (await client.data(CREATE_SESSION, {"input": fields}, token=user.token))["createChatSession"]
    assert payload["errors"] == [], payload
    return str(payload["chatSession"]["id"])


async def send(client: GraphQLClient, user: SignedUp, session_id: str, content: str) -> dict[str, Any]:
    payload = (await client.data(SEND, {"input": {"sessionId": session_id, "content": content}}, token=user.token))[
        "sendMessage"
    ]
    assert payload["errors"] == [], payload
    return payload["message"]  # type: ignore[no-any-return]


async def session_state(client: GraphQLClient, user: SignedUp, session_id: str) -> dict[str, Any]:
    return (await client.data(MESSAGES, {"id": session_id}, token=user.token))["node"]  # type: ignore[no-any-return]


async def until_final(socket: TransportSocket, operation: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The session's events up to the first ASSISTANT or SYSTEM `MessageAdded` (included)."""
    events: list[dict[str, Any]] = []
    while True:
        event = (await socket.next_data(operation, timeout))["chatSessionEvents"]
        events.append(event)
        if event["__typename"] == "MessageAdded" and event["message"]["role"] in ("ASSISTANT", "SYSTEM"):
            return events


def deltas(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if event["__typename"] == "MessageDelta"]


def final(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events[-1]["__typename"] == "MessageAdded", events
    return events[-1]["message"]  # type: ignore[no-any-return]


async def legacy_events(url: str, token: str, session_id: str, count_until_final: bool = True) -> Any:
    """A graphql-ws (legacy protocol) socket subscribed to the session's events."""
    socket = await websockets.connect(url, subprotocols=["graphql-ws"])
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(
        json.dumps({"id": "1", "type": "start", "payload": {"query": EVENTS, "variables": {"id": session_id}}})
    )
    return socket


async def legacy_until_final(socket: Any, timeout: float = 30) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if message["type"] == "ka":
            continue
        assert message["type"] == "data", message
        event = message["payload"]["data"]["chatSessionEvents"]
        events.append(event)
        if event["__typename"] == "MessageAdded" and event["message"]["role"] in ("ASSISTANT", "SYSTEM"):
            return events
