"""The chat mutations and reads as a client sends them, and the rows a test inspects afterwards."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from graph.node import decode_global_id
from tests.graphql_client import GraphQLClient, SignedUp

ERRORS = "errors { field code message }"
CONTEXT_FIELDS = """contextData {
  businessContext { currentProject clientInfo taskType }
  aiContext { personality memory preferences }
  integrationContext { activeConnections recentTasks }
}"""
SESSION_FIELDS = f"id title status messageCount lastActivityAt createdAt updatedAt deletedAt {CONTEXT_FIELDS}"
MESSAGE_FIELDS = """id role content seq timestamp editedAt session { id }
metadata { attachments { type url name size document { id originalFilename } } }"""


def _mutation(name: str, input_type: str, payload: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {payload} {ERRORS} }} }}"


CREATE_SESSION = _mutation("createChatSession", "CreateChatSessionInput", f"chatSession {{ {SESSION_FIELDS} }}")
UPDATE_SESSION = _mutation("updateChatSession", "UpdateChatSessionInput", f"chatSession {{ {SESSION_FIELDS} }}")
ARCHIVE_SESSION = _mutation("archiveChatSession", "ArchiveChatSessionInput", f"chatSession {{ {SESSION_FIELDS} }}")
UNARCHIVE_SESSION = _mutation(
    "unarchiveChatSession", "UnarchiveChatSessionInput", f"chatSession {{ {SESSION_FIELDS} }}"
)
DELETE_SESSION = _mutation("deleteChatSession", "DeleteChatSessionInput", f"chatSession {{ {SESSION_FIELDS} }}")
RESTORE_SESSION = _mutation("restoreChatSession", "RestoreChatSessionInput", f"chatSession {{ {SESSION_FIELDS} }}")
SEND_MESSAGE = _mutation("sendMessage", "SendMessageInput", f"message {{ {MESSAGE_FIELDS} }}")
EDIT_MESSAGE = _mutation("editMessage", "EditMessageInput", f"message {{ {MESSAGE_FIELDS} }}")
DELETE_MESSAGE = _mutation("deleteMessage", "DeleteMessageInput", f"message {{ {MESSAGE_FIELDS} }}")

SESSION_MESSAGES = f"""query($id: ID!, $first: Int, $after: String) {{
  node(id: $id) {{
    ... on ChatSession {{
      {SESSION_FIELDS}
      messages(first: $first, after: $after) {{
        totalCount
        pageInfo {{ hasNextPage endCursor }}
        edges {{ cursor node {{ {MESSAGE_FIELDS} }} }}
      }}
    }}
  }}
}}"""

SESSIONS_LIST = """query($status: [ChatSessionStatus!]) {
  viewer { chatSessions(first: 100, filter: {status: $status}) { totalCount nodes { id title status } } }
}"""


def pk(global_id: str) -> uuid.UUID:
    return decode_global_id(global_id)[1]  # type: ignore[return-value]


async def mutate(client: GraphQLClient, document: str, user: SignedUp | None, **fields: Any) -> dict[str, Any]:
    """The mutation's payload (the only root field of the answer)."""
    data = await client.data(document, {"input": fields}, token=user.token if user else None)
    return next(iter(data.values()))


def ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["errors"] == [], payload["errors"]
    return payload


def problems(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(field, code) of every payload error, sorted; the payload holds no object."""
    obj = {key: value for key, value in payload.items() if key != "errors"}
    assert all(value is None for value in obj.values()), payload
    return sorted((error["field"], error["code"]) for error in payload["errors"])


async def create_session(client: GraphQLClient, user: SignedUp, **fields: Any) -> dict[str, Any]:
    return ok(await mutate(client, CREATE_SESSION, user, **fields))["chatSession"]


async def send(
    client: GraphQLClient, user: SignedUp, session_id: str, content: str = "Hello", **fields: Any
) -> dict[str, Any]:
    return ok(await mutate(client, SEND_MESSAGE, user, sessionId=session_id, content=content, **fields))["message"]


async def read_session(
    client: GraphQLClient, user: SignedUp, session_id: str, first: int = 100
) -> dict[str, Any] | None:
    data = await client.data(SESSION_MESSAGES, {"id": session_id, "first": first}, token=user.token)
    return data["node"]


async def listed(client: GraphQLClient, user: SignedUp, status: list[str] | None = None) -> list[str]:
    data = await client.data(SESSIONS_LIST, {"status": status}, token=user.token)
    return [node["id"] for node in data["viewer"]["chatSessions"]["nodes"]]


async def session_row(pg: asyncpg.Connection, session_id: str | uuid.UUID) -> dict[str, Any]:
    key = session_id if isinstance(session_id, uuid.UUID) else pk(session_id)
    return dict(await pg.fetchrow("SELECT * FROM chat_sessions WHERE id = $1", key))


async def message_rows(pg: asyncpg.Connection, session_id: str | uuid.UUID) -> list[dict[str, Any]]:
    key = session_id if isinstance(session_id, uuid.UUID) else pk(session_id)
    rows = await pg.fetch("SELECT * FROM messages WHERE session_id = $1 ORDER BY seq", key)
    return [dict(row) for row in rows]


async def session_count(pg: asyncpg.Connection, user: SignedUp) -> int:
    return await pg.fetchval("SELECT count(*) FROM chat_sessions WHERE user_id = $1", user.pk)


def unauthenticated(body: dict[str, Any]) -> bool:
    return any(error.get("extensions", {}).get("code") == "UNAUTHENTICATED" for error in body.get("errors", []))
